"""Creating, emptying and migrating the test databases."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
from alembic import command
from sqlalchemy import delete, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.core import migrations
from app.core.database import Database
from app.models import metadata
from tests.support import counters
from tests.support.audit import empty_audit_table

__all__ = ["committed", "downgrade", "empty", "everything_sent", "for_worker", "recreate", "statements_sent", "upgrade"]


async def recreate(database_url: str) -> None:
    """An empty database at `database_url`: a deleted SQLite file, or a PostgreSQL database created anew."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database
        for suffix in ("", "-wal", "-shm"):
            Path(url.database + suffix).unlink(missing_ok=True)  # noqa: ASYNC240 - a test fixture, once
        return
    name = url.database
    assert name
    assert name.replace("_", "").isalnum(), f"unexpected test database name {name!r}"
    admin = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database="postgres"
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def empty(engine: AsyncEngine) -> None:
    """Delete every row of every table (the app's and the tests' counters), children first: after a test whose
    requests committed. The audit trail, append-only, is emptied as only a superuser may."""
    async with engine.begin() as connection:
        await empty_audit_table(connection)
        for table in [*reversed(metadata.sorted_tables), *counters.metadata.sorted_tables]:
            if table.name != "audit_entry":
                await connection.execute(delete(table))


@asynccontextmanager
async def committed(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Database]:
    """The app's database object on the test database, its writes committed; every table emptied afterwards."""
    database = Database(settings)
    try:
        yield database
    finally:
        await database.dispose()
        await empty(engine)


def for_worker(database_url: str, worker: str) -> str:
    """The database of one pytest-xdist worker (`gw0`...): the name with the worker's suffix; SQLite unchanged
    (its files are in each worker's own temporary directory)."""
    url = make_url(database_url)
    if not worker or url.get_backend_name() == "sqlite":
        return database_url
    return url.set(database=f"{url.database}_{worker}").render_as_string(hide_password=False)


def _run(connection: Connection, action: str, revision: str) -> None:
    getattr(command, action)(migrations.alembic_config(connection=connection), revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_run, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_run, "downgrade", revision)


@contextmanager
def statements_sent(async_engine: AsyncEngine) -> Iterator[list[str]]:
    """The first word of every statement sent while inside: SQLAlchemy's cursor executions, and what asyncpg sends
    on its own for transactions (`BEGIN`, `COMMIT`) and pings (`;`, recorded as ""). A connection made inside is
    watched from its first statement; one pooled before, from the end of its checkout (what the pool sends while
    checking it out is missed: `everything_sent` sees that too)."""
    engine = async_engine.sync_engine
    sent: list[str] = []

    def on_cursor(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement.split(maxsplit=1)[0].upper())

    def on_driver_query(record: Any) -> None:
        sent.append(record.query.split()[0].rstrip(";").upper())

    loggers: list[Any] = []

    def watch(dbapi_connection: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and hasattr(driver, "add_query_logger"):  # asyncpg
            driver.add_query_logger(on_driver_query)
            loggers.append(driver)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        watch(dbapi_connection)

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        watch(dbapi_connection)

    event.listen(engine, "before_cursor_execute", on_cursor)
    event.listen(engine.pool, "connect", on_connect)
    event.listen(engine.pool, "checkout", on_checkout)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", on_cursor)
        event.remove(engine.pool, "connect", on_connect)
        event.remove(engine.pool, "checkout", on_checkout)
        for driver in loggers:
            driver.remove_query_logger(on_driver_query)


@asynccontextmanager
async def everything_sent(async_engine: AsyncEngine) -> AsyncIterator[list[str]]:
    """`statements_sent`, the pool's own statements at checkout included (a pre-ping, say): the pool is emptied
    first, so that every connection used inside is made inside and watched from its first statement. A new
    connection's first checkout is never pinged: make a read before the one to count."""
    await async_engine.dispose()
    with statements_sent(async_engine) as sent:
        yield sent
