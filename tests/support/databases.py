"""Creating, emptying and migrating the test databases."""

from pathlib import Path

import asyncpg
from alembic import command
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core import migrations

__all__ = ["downgrade", "recreate", "upgrade"]


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


def _run(connection: Connection, action: str, revision: str) -> None:
    getattr(command, action)(migrations.alembic_config(connection=connection), revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_run, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_run, "downgrade", revision)
