"""Alembic, driven from code: upgrade/downgrade for the CLI and tests, and the schema check at start-up."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "PROJECT_ROOT",
    "SchemaMismatchError",
    "alembic_config",
    "downgrade",
    "ensure_schema_current",
    "head_revision",
    "make_revision",
    "upgrade",
]

PROJECT_ROOT = Path(__file__).resolve().parents[3]


class SchemaMismatchError(RuntimeError):
    """The database is not at the migration head this code expects; the message says what to run."""


def alembic_config(database_url: str | None = None, *, connection: Connection | None = None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    # Passed as attributes, not ini options: a URL may hold '%', which ConfigParser would try to interpolate.
    config.attributes["database_url"] = database_url
    config.attributes["connection"] = connection
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "-1") -> None:
    command.downgrade(alembic_config(database_url), revision)


def make_revision(database_url: str, *, message: str, autogenerate: bool) -> None:
    command.revision(alembic_config(database_url), message=message, autogenerate=autogenerate)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def ensure_schema_current(engine: AsyncEngine) -> None:
    """Refuse to serve on a schema that is behind (or ahead of) the code."""
    async with engine.connect() as connection:
        current = await connection.run_sync(_current_revision)
    expected = head_revision()
    if current != expected:
        shown = current or "none (an empty database)"
        msg = (
            f"The database schema is at revision {shown}, but this code expects {expected}. "
            "Run `uv run forge db upgrade` (or `forge db downgrade <rev>` after rolling back the code)."
        )
        raise SchemaMismatchError(msg)
