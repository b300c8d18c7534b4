"""Alembic environment: async engines, SQLite batch mode, and a connection handed in by tests or the app."""

import asyncio
from pathlib import Path

from alembic import context
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import get_settings
from app.models import metadata

config = context.config


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things in place
        compare_type=True,
        # Set by app.core.migrations: each step applied is reported to the caller (`forge db upgrade` prints them).
        on_version_apply=config.attributes.get("on_version_apply"),
    )
    # Heads, not the one revision: a schema whose merge revision was undone is at two (alembic merge heads).
    config.attributes["revision_before"] = ", ".join(context.get_context().get_current_heads()) or None
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_new_engine(url: str) -> None:
    database = make_url(url).database
    if url.startswith("sqlite") and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, hide_parameters=True)  # as the app's engines: no row values in errors
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure_and_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=config.attributes.get("database_url") or get_settings().database_url,
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    url = config.attributes.get("database_url") or get_settings().database_url
    asyncio.run(_run_with_new_engine(url))


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
