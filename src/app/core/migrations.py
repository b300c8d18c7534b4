"""Alembic, driven from code: upgrade/downgrade for the CLI and tests, and the schema check at start-up."""

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = [
    "PROJECT_ROOT",
    "Migrated",
    "SchemaMismatchError",
    "alembic_config",
    "downgrade",
    "ensure_schema_current",
    "head_revision",
    "make_revision",
    "step_down_target",
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


@dataclass(frozen=True, slots=True)
class Migrated:
    """What an upgrade or downgrade did: the revision before and after (None: an empty schema), and each step."""

    before: str | None
    after: str | None
    steps: tuple[str, ...]  # "<revision> <message>", in the order applied


def _run(action: str, database_url: str, revision: str) -> Migrated:
    config = alembic_config(database_url)
    steps: list[tuple[str | None, str]] = []  # (the revision the step leaves the schema at, what it was)

    def applied(*, step: Any, **_: Any) -> None:  # alembic's on_version_apply callback (alembic/env.py)
        destination, migration = step.destination_revision_ids, step.up_revision
        steps.append((", ".join(destination) or None, f"{migration.revision} {migration.doc}"))

    config.attributes["on_version_apply"] = applied
    getattr(command, action)(config, revision)
    before: str | None = config.attributes.get("revision_before")
    return Migrated(before=before, after=steps[-1][0] if steps else before, steps=tuple(done for _, done in steps))


def upgrade(database_url: str, revision: str = "head") -> Migrated:
    return _run("upgrade", database_url, revision)


def downgrade(database_url: str, revision: str = "-1") -> Migrated:
    relative = re.fullmatch(r"-(\d+)", revision)
    if relative is None:
        return _run("downgrade", database_url, revision)
    # Alembic cannot walk a relative step down from a merge revision ("Ambiguous walk"), and a project that joined
    # two heads (`alembic merge heads` after `copier update`) is at one. So steps are taken one at a time, each to
    # the revision below the current one, which for a merge is its first parent: both branches stay applied.
    before: str | None = None
    steps: list[str] = []
    after: str | None = None
    script = ScriptDirectory.from_config(alembic_config())
    for taken in range(int(relative[1])):
        heads = asyncio.run(_current_heads(database_url))
        if not heads:
            break
        migrated = _run("downgrade", database_url, step_down_target(script, heads))
        before = migrated.before if taken == 0 else before
        after = migrated.after
        steps.extend(migrated.steps)
    return Migrated(before=before, after=after, steps=tuple(steps))


def step_down_target(script: ScriptDirectory, heads: tuple[str, ...]) -> str:
    """The revision one step below the schema's current one: its (first) parent, or "base" below the first."""
    if len(heads) > 1:
        msg = f"the schema is at several heads ({', '.join(heads)}): name the revision to go down to"
        raise CommandError(msg)
    current = script.get_revision(heads[0])
    if current is None:
        raise CommandError(f"the schema is at {heads[0]}, a revision none of the migrations has")
    parents = current.down_revision  # None below the first revision, a tuple for a merge
    if parents is None:
        return "base"
    return parents if isinstance(parents, str) else parents[0]


async def _current_heads(database_url: str) -> tuple[str, ...]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads())
    finally:
        await engine.dispose()


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
