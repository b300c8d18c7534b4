"""Two apps in one process on one database, with real commits: the second follows the first's changes, by
polling the registry version or through Redis pub/sub (the process-level test is test_instances.py)."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.core.context import AppContext
from app.features.dynamic_endpoints.state import EndpointRuntime
from app.main import create_app
from tests import helpers
from tests.support import databases
from tests.support.app import running
from tests.support.dynamic_endpoints import ADMIN_ENDPOINTS, snapshot, spec, static
from tests.support.polling import until_status
from tests.support.settings import BASE_URL, service_url_or_skip

DEADLINE_SECONDS = 2.0


@pytest.fixture
async def emptied(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    yield engine
    await databases.empty(engine)


async def _started(stack: AsyncExitStack, settings: Settings) -> tuple[AppContext, httpx.AsyncClient]:
    started = await stack.enter_async_context(running(create_app(settings)))
    client = await stack.enter_async_context(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL)
    )
    return started.context, client


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
        first, writer = await _started(stack, shared)
        _, reader = await _started(stack, shared)
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
