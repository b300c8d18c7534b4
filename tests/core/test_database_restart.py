"""A PostgreSQL restart between two requests costs neither of them: no pooled connection the restart closed reaches a
request, though the pool no longer pings (core/database.py), and a read retries once on a connection found dead
(core/reads.py).

Each test starts a cluster of its own (initdb, pg_ctl on a free port, in a temporary directory): the shared server
is never restarted.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.core.context import AppContext
from app.core.database import create_engine
from app.main import create_app
from tests import helpers
from tests.support import counters, databases, processes, services
from tests.support.app import running
from tests.support.settings import BASE_URL, make_settings

pytestmark = processes.HEAVY


@dataclass(frozen=True)
class Served:
    server: services.PostgresServer
    context: AppContext
    client: httpx.AsyncClient

    async def restart_postgresql(self) -> None:
        # In a thread: the event loop keeps running meanwhile, as a server's does, and sees the connections close.
        await asyncio.to_thread(self.server.restart)


async def _serve(stack: AsyncExitStack, **settings: Any) -> Served:
    try:
        server = stack.enter_context(services.postgres_server())
    except services.MissingServiceError as exc:
        processes.unavailable(f"{exc}: the test restarts a PostgreSQL cluster of its own")
    configured = make_settings(server.url(), database_pool_size=2, **settings)
    engine = create_engine(configured)
    await databases.upgrade(engine)
    await counters.create_table(engine)
    await engine.dispose()
    app = create_app(configured)
    counters.mount(app)
    started = await stack.enter_async_context(running(app))
    transport = httpx.ASGITransport(app=started.asgi)
    client = await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url=BASE_URL))
    return Served(server, started.context, client)


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    async with AsyncExitStack() as stack:
        yield await _serve(stack)


@pytest.fixture
async def served_without_checkout_check() -> AsyncIterator[Served]:
    async with AsyncExitStack() as stack:
        yield await _serve(stack, database_pool_pre_ping=False)


async def test_reads_and_writes_after_a_restart_succeed(served: Served) -> None:
    client = served.client
    admin = await helpers.committed_admin_headers(served.context, client)
    created = await client.post(counters.PATH, json={"name": "before"}, headers=admin)
    assert created.status_code == 201, created.text
    read = f"{counters.PATH}/{created.json()['id']}"
    assert (await client.get(read)).status_code == 200

    await served.restart_postgresql()

    # First a write, which is never retried: it succeeds because the pool replaced the connections the restart
    # closed before handing one out (a failed read would have had SQLAlchemy renew the whole pool already).
    written = await client.patch(read, json={"ceiling": 7}, headers=admin)
    assert written.status_code == 200, written.text
    assert (await client.get(read)).json()["ceiling"] == 7

    await served.restart_postgresql()

    assert (await client.get(read)).status_code == 200


async def test_a_read_on_a_dead_connection_is_retried_once_on_a_new_one(served_without_checkout_check: Served) -> None:
    """With the checkout check off, the pool hands out the connection the restart closed: the read meets it, and
    its retry does not."""
    client = served_without_checkout_check.client
    admin = await helpers.committed_admin_headers(served_without_checkout_check.context, client)
    created = await client.post(counters.PATH, json={"name": "before"}, headers=admin)
    read = f"{counters.PATH}/{created.json()['id']}"
    assert (await client.get(read)).status_code == 200

    await served_without_checkout_check.restart_postgresql()

    assert (await client.get(read)).status_code == 200
