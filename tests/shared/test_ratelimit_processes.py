"""Across processes: two servers sharing Redis enforce one limit; Redis stopping and returning mid-test."""

import asyncio
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from app.core.database import create_engine
from app.main import create_app
from tests.support import databases, processes
from tests.support.app import running
from tests.support.settings import BASE_URL, make_settings, redis_url_or_skip

pytestmark = processes.HEAVY


async def test_two_server_processes_sharing_redis_enforce_one_global_limit(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    engine_settings = make_settings(database_url)
    await databases.recreate(database_url)
    engine = create_engine(engine_settings)
    await databases.upgrade(engine)
    await engine.dispose()
    env = {
        "FORGE_DATABASE_URL": database_url,
        "FORGE_REDIS_URL": redis_url_or_skip(),
        "FORGE_RATE_LIMIT_DEFAULT": "20/hour",  # no refill during the test
        # Sharing is under test, not timeouts: on a loaded machine the default 0.25 s would fail open.
        "FORGE_REDIS_TIMEOUT_SECONDS": "5",
        "FORGE_RATE_LIMIT_KEY_PREFIX": f"forge-test:{uuid.uuid4().hex}:",
        "FORGE_MIGRATE_ON_START": "false",
        "FORGE_LOG_LEVEL": "WARNING",
    }
    with processes.forge_serve(env, cwd=tmp_path) as first, processes.forge_serve(env, cwd=tmp_path) as second:
        async with httpx.AsyncClient(timeout=10) as http:
            responses = await asyncio.gather(*(http.get(f"{(first, second)[i % 2]}/api/v1/config") for i in range(60)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 20
    assert statuses.count(429) == 40
    # Each process answered 30 requests: on its own it would have admitted 20 of them (40 in all).
    assert sorted(Counter(r.url.port for r in responses).values()) == [30, 30]


async def _get(http: httpx.AsyncClient) -> httpx.Response:
    return await http.get("/api/v1/config")


@pytest.mark.parametrize("fail_open", [True, False], ids=["fail-open", "fail-closed"])
async def test_redis_stopping_mid_test_fails_as_configured_and_recovers(
    database_url: str, engine: object, fail_open: bool
) -> None:
    port = processes.free_port()
    settings = make_settings(
        database_url,
        redis_url=f"redis://127.0.0.1:{port}/0",
        # Not short: a stopped Redis refuses connections at once, and a loaded machine took over 0.2 s to answer
        # the first, healthy request (which then failed open, without headers).
        redis_timeout_seconds=5,
        rate_limit_default="100/minute",
        rate_limit_fail_open=fail_open,
    )
    app = create_app(settings)
    async with (
        running(app) as started,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as http,
    ):
        with processes.redis_server(port):
            limited = await _get(http)
            assert limited.status_code == 200
            assert limited.headers["x-ratelimit-remaining"] == "99"
        # Redis is gone: requests are served without rate-limit headers (fail open) or refused with 503 (closed).
        degraded = [await _get(http) for _ in range(3)]
        assert [r.status_code for r in degraded] == [200 if fail_open else 503] * 3
        assert all("ratelimit" not in r.headers for r in degraded)
        assert started.context.rate_limiter is not None
        assert started.context.rate_limiter.backend_failures >= 3
        with processes.redis_server(port):  # back (empty, as a restarted cache-only Redis is)
            recovered = None
            for _ in range(50):
                recovered = await _get(http)
                if "x-ratelimit-remaining" in recovered.headers:
                    break
                await asyncio.sleep(0.1)
            assert recovered is not None
            assert recovered.status_code == 200
            assert "x-ratelimit-remaining" in recovered.headers, "limiting did not resume after Redis returned"
