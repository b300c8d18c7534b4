"""Two apps in one process on one database, with real commits: the second follows the first's changes, by
polling the registry version or through Redis pub/sub (the process-level test is test_instances.py)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import QueuePool

from app.config import Settings
from app.features.dynamic_endpoints import service
from app.features.dynamic_endpoints.state import EndpointRuntime
from app.main import create_app
from tests import helpers
from tests.support import databases
from tests.support.app import running, started_with_client
from tests.support.dynamic_endpoints import ADMIN_ENDPOINTS, snapshot, spec, static
from tests.support.polling import until_status
from tests.support.settings import service_url_or_skip

DEADLINE_SECONDS = 2.0


@pytest.fixture
async def emptied(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    yield engine
    await databases.empty(engine)


@pytest.mark.usefixtures("emptied")
@pytest.mark.parametrize("transport", ["polling", "redis"])
async def test_a_second_app_follows_changes_made_through_the_first(settings: Settings, transport: str) -> None:
    overrides: dict[str, object] = {"dynamic_endpoints_sync_seconds": 0.2}
    if transport == "redis":
        # With Redis the version is polled only every 5 s: following within the deadline takes the message.
        redis_url = SecretStr(service_url_or_skip("FORGE_TEST_REDIS_URL", "Redis"))
        overrides |= {"redis_url": redis_url, "redis_timeout_seconds": 5}
    shared = settings.model_copy(update=overrides)
    async with AsyncExitStack() as stack:
        first, writer = await started_with_client(stack, shared)
        _, reader = await started_with_client(stack, shared)
        admin = await helpers.committed_admin_headers(first, writer)

        created = await writer.post(ADMIN_ENDPOINTS, json=static(), headers=admin)
        assert created.status_code == 201, created.text
        assert await until_status(reader, "/api/v1/x/status", 200) < DEADLINE_SECONDS

        await writer.delete(f"{ADMIN_ENDPOINTS}/{created.json()['id']}", headers=admin)
        assert await until_status(reader, "/api/v1/x/status", 404) < DEADLINE_SECONDS


def test_a_late_local_change_does_not_replace_a_newer_registry() -> None:
    runtime = EndpointRuntime(max_specs=10)
    announced: list[int] = []
    runtime.on_change.append(announced.append)
    newer = snapshot(spec(1, "/api/v1/x/a"))
    older = type(newer).build(0, [])

    runtime.install(newer)
    runtime.install(older, local_change=True)

    assert runtime.snapshot is newer
    assert announced == []


@pytest.mark.usefixtures("engine")  # the schema
async def test_a_shutdown_during_a_registry_check_lets_the_check_return_its_connection(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The periodic check is cancelled at shutdown; the read it had started finishes and returns its connection
    before the engine is disposed (cut off inside the driver, it stayed checked out until the garbage collector
    found it, failing whichever test ran then)."""
    inside, release = asyncio.Event(), asyncio.Event()
    load = service.load_registry

    async def slow_load(session: AsyncSession, runtime: EndpointRuntime, *, known_version: int) -> bool:
        await session.execute(text("SELECT 1"))  # the connection is checked out
        inside.set()
        await release.wait()
        return await load(session, runtime, known_version=known_version)

    async with running(create_app(settings.model_copy(update={"dynamic_endpoints_sync_seconds": 0.05}))) as app:
        pool = app.context.database.engine.pool
        assert isinstance(pool, QueuePool)
        monkeypatch.setattr(service, "load_registry", slow_load)
        await asyncio.wait_for(inside.wait(), timeout=30)
        assert pool.checkedout() == 1
        asyncio.get_running_loop().call_later(0.05, release.set)  # once the shutdown has cancelled the check
    assert release.is_set()
    assert pool.checkedout() == 0
