"""The `Reader` of read-only endpoints (core/reads.py): one retry on a dead connection only, and a cancelled read
gives its connection back. (Its retry after a PostgreSQL restart: test_database_restart.py.)"""

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from app.core.context import AppContext
from tests.support import databases


async def test_a_failing_read_that_is_no_disconnect_is_not_repeated(context: AppContext) -> None:
    with databases.statements_sent(context.database.engine) as sent, pytest.raises(DBAPIError) as raised:
        await context.database.reader.all(text("SELECT * FROM no_such_table"), {})
    assert not raised.value.connection_invalidated
    assert sent == ["SELECT"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # a statement that takes its time
async def test_a_cancelled_read_gives_its_connection_back(context: AppContext) -> None:
    pool = context.database.engine.sync_engine.pool
    assert isinstance(pool, QueuePool)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await context.database.reader.all(text("SELECT pg_sleep(5)"), {})
    assert pool.checkedout() == 0
    [row] = await context.database.reader.all(text("SELECT 1"), {})
    assert row[0] == 1
