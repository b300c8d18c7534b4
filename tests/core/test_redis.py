"""The shared Redis client against a private redis-server that is restarted under it.

After a restart every pooled connection is dead. A client that retries nothing fails one command per stale
connection before the pool replaces it; the service's client must not: the first `/readyz`, limit check or
publish after Redis came back has to succeed.
"""

import logging
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from app.core.database import Database
from app.core.logging import configure_logging
from app.core.ratelimit import Limit, PolicySet, RedisBackend
from app.core.redis import create_redis
from app.features.health.service import check_readiness
from tests.support import processes, services
from tests.support.settings import make_settings

POLICY = PolicySet("default", (Limit(100, 60),))


@pytest.fixture
def redis_server() -> Iterator[services.RedisServer]:
    try:
        with services.private_redis() as server:
            yield server
    except services.MissingServiceError as exc:
        processes.unavailable(f"{exc}: the restart tests start a private Redis")


def _client(server: services.RedisServer) -> Redis:
    client = create_redis(make_settings("sqlite+aiosqlite://", redis_url=server.url))
    assert client is not None
    return client


async def test_a_command_after_a_restart_succeeds_on_a_fresh_connection(redis_server: services.RedisServer) -> None:
    client = _client(redis_server)
    try:
        assert await client.ping()
        redis_server.stop()
        redis_server.start()
        assert await client.ping()
    finally:
        await client.aclose()


async def test_readiness_reports_redis_ok_right_after_a_restart(redis_server: services.RedisServer) -> None:
    client = _client(redis_server)
    database = Database(make_settings("sqlite+aiosqlite://"))
    try:
        await client.ping()
        redis_server.stop()
        redis_server.start()
        degraded, checks = await check_readiness(engine=database.engine, redis=client, redis_required=True)
        assert (degraded, checks) == (False, {"database": "ok", "redis": "ok"})
    finally:
        await client.aclose()
        await database.dispose()


async def test_readiness_logs_why_redis_is_unavailable(
    redis_server: services.RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings("sqlite+aiosqlite://", log_level="INFO")
    configure_logging(settings)  # as the app does: structlog hands its events to the standard logging tree
    client = _client(redis_server)
    database = Database(settings)
    try:
        redis_server.stop()
        with caplog.at_level(logging.WARNING, logger="app.health"):
            degraded, checks = await check_readiness(engine=database.engine, redis=client, redis_required=False)
        assert (degraded, checks) == (True, {"database": "ok", "redis": "unavailable"})
        [warning] = [r for r in caplog.records if r.name == "app.health"]
        assert warning.levelno == logging.WARNING
        event: dict[str, str] = warning.msg  # type: ignore[assignment]
        assert event["event"] == "redis_unavailable"
        assert "ConnectionError" in event["reason"]
        assert str(redis_server.port) in event["reason"]
    finally:
        await client.aclose()
        await database.dispose()


async def test_the_limiter_counts_the_first_request_after_a_restart(redis_server: services.RedisServer) -> None:
    # A generous timeout: under test is the reconnection, not the timeout (a loaded machine took over 0.25 s).
    backend = RedisBackend(_client(redis_server), key_prefix="forge:test:restart:", timeout_seconds=5)
    try:
        assert (await backend.hit("client", POLICY)).allowed
        redis_server.stop()
        redis_server.start()
        decision = await backend.hit("client", POLICY)
        # Redis restarted empty (no persistence): the count starts again rather than the check failing open.
        assert decision.allowed
        assert decision.remaining == POLICY.limits[0].limit - 1
    finally:
        await backend.close()


async def test_a_client_without_retries_fails_on_its_stale_connection(redis_server: services.RedisServer) -> None:
    """The control: what the options above are for. If redis-py starts retrying by default, this says so."""
    client = Redis.from_url(redis_server.url, socket_timeout=1, socket_connect_timeout=1)
    try:
        await client.ping()
        redis_server.stop()
        redis_server.start()
        with pytest.raises(RedisConnectionError):
            await client.ping()
    finally:
        await client.aclose()
