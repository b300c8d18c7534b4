"""The shared outbound client: configured from settings, owned by the lifespan, instrumented only when traced."""

import httpx

from app.main import create_app
from tests.conftest import make_settings
from tests.support.app import running


async def test_the_lifespan_opens_one_configured_client_and_closes_it(engine: object, database_url: str) -> None:
    settings = make_settings(
        database_url,
        http_max_connections=7,
        http_max_keepalive=3,
        http_connect_timeout=1.5,
        http_read_timeout=4,
        http_write_timeout=2.5,
    )
    app = create_app(settings)
    async with running(app) as started:
        client: httpx.AsyncClient = started.context.http_client
        assert client.timeout == httpx.Timeout(connect=1.5, read=4, write=2.5, pool=settings.http_pool_timeout)
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert (pool._max_connections, pool._max_keepalive_connections) == (7, 3)
        assert not client.follow_redirects
        assert not getattr(client, "_is_instrumented_by_opentelemetry", False)  # tracing is off
    assert client.is_closed


async def test_with_tracing_on_the_client_is_instrumented(engine: object, database_url: str) -> None:
    app = create_app(make_settings(database_url, otel_exporter="console"))
    async with running(app) as started:
        assert started.context.http_client._is_instrumented_by_opentelemetry  # type: ignore[attr-defined]
