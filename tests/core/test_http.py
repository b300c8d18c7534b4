"""The shared outbound client: configured from settings, owned by the lifespan, instrumented only when traced.

Its pool and its instrumentation are observed from the upstream's side (tests/support/upstreams.py): the
connections it opens and keeps, and the trace context it sends.
"""

from collections.abc import Iterator

import httpx
import pytest

from app.main import create_app
from tests.support.app import running
from tests.support.settings import make_settings
from tests.support.upstreams import Upstreams, hold, release, upstream_servers


@pytest.fixture
def upstreams() -> Iterator[Upstreams]:
    with upstream_servers() as servers:
        yield servers


async def test_the_lifespan_opens_one_configured_client_and_closes_it(
    engine: object, database_url: str, upstreams: Upstreams
) -> None:
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
        # At most 7 connections: with 7 requests in flight, an eighth waits for one and gives up.
        held = await hold(client, upstreams, 7)
        with pytest.raises(httpx.PoolTimeout):
            await client.get(f"{upstreams.base}/ok/eighth", timeout=httpx.Timeout(5, pool=0.2))
        assert upstreams.connections == 7
        await release(upstreams, held)
        # At most 3 kept alive once idle: 7 at once again reuse those 3 and open 4.
        await release(upstreams, await hold(client, upstreams, 7))
        assert upstreams.connections == 7 + 4
        assert not client.follow_redirects
        # Tracing is off: the client sends no trace context.
        assert (await client.get(f"{upstreams.base}/ok/untraced")).status_code == 200
        [headers] = upstreams.headers_of("/ok/untraced")
        assert "traceparent" not in headers
    assert client.is_closed


async def test_with_tracing_on_the_client_is_instrumented(
    engine: object, database_url: str, upstreams: Upstreams
) -> None:
    app = create_app(make_settings(database_url, otel_exporter="console"))
    async with running(app) as started:
        assert (await started.context.http_client.get(f"{upstreams.base}/ok/traced")).status_code == 200
    # The instrumented client made a span of the request and sent its context to the upstream.
    [headers] = upstreams.headers_of("/ok/traced")
    assert headers["traceparent"].startswith("00-")
