"""The migrations build exactly the models' schema, and can be walked down to nothing and back up."""

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core import migrations
from app.models import metadata
from tests.support import databases

BUILT_IN_TABLES = {
    "user_account",
    "api_key",
    "endpoint_spec",
    "endpoint_document",
    "endpoint_registry",
    "idempotency_key",
}
BEFORE_DYNAMIC_ENDPOINTS = "ff68d4c880bc"  # the revision the dynamic endpoints' migration revises
# Every model's table: the built-in ones, the example features' (when the project has them) and those of features
# added since (`forge feature new`).
APP_TABLES = set(metadata.tables)


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata))


async def test_upgrade_from_empty_to_head_matches_the_models(scratch_engine: AsyncEngine) -> None:
    assert BUILT_IN_TABLES <= APP_TABLES
    await databases.upgrade(scratch_engine)
    async with scratch_engine.connect() as connection:
        assert await connection.run_sync(_tables) == APP_TABLES
        assert await connection.run_sync(_diff) == []
    await migrations.ensure_schema_current(scratch_engine)


async def test_downgrade_to_base_removes_everything_and_upgrade_restores_it(scratch_engine: AsyncEngine) -> None:
    await databases.upgrade(scratch_engine)
    await databases.downgrade(scratch_engine, "base")
    async with scratch_engine.connect() as connection:
        assert await connection.run_sync(_tables) == set()
    await databases.upgrade(scratch_engine)
    async with scratch_engine.connect() as connection:
        assert await connection.run_sync(_tables) == APP_TABLES


async def test_an_unmigrated_database_is_refused_with_the_command_to_run(scratch_engine: AsyncEngine) -> None:
    with pytest.raises(migrations.SchemaMismatchError, match="forge db upgrade"):
        await migrations.ensure_schema_current(scratch_engine)


def test_there_is_a_single_head() -> None:
    assert migrations.head_revision() is not None


async def test_the_endpoint_registry_starts_at_version_zero_and_walks_down_and_up(scratch_engine: AsyncEngine) -> None:
    await databases.upgrade(scratch_engine)
    async with scratch_engine.connect() as connection:
        assert (await connection.execute(text("SELECT id, version FROM endpoint_registry"))).all() == [(1, 0)]
    await databases.downgrade(scratch_engine, BEFORE_DYNAMIC_ENDPOINTS)  # not "-1": later migrations may follow
    async with scratch_engine.connect() as connection:
        assert "endpoint_spec" not in await connection.run_sync(_tables)
    await databases.upgrade(scratch_engine)
    async with scratch_engine.connect() as connection:
        assert (await connection.execute(text("SELECT version FROM endpoint_registry"))).scalar_one() == 0


def _script_with_a_merge(root: Path) -> ScriptDirectory:
    """first → (left, right) → joined: the shape `alembic merge heads` leaves after a `copier update`."""
    versions = root / "versions"
    versions.mkdir(parents=True)
    for revision, down in [("first", None), ("left", "first"), ("right", "first"), ("joined", ("left", "right"))]:
        (versions / f"{revision}.py").write_text(
            f"revision = {revision!r}\ndown_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n"
        )
    return ScriptDirectory(str(root))


def test_one_step_down_from_a_merge_is_to_its_first_parent_and_below_the_first_is_base(tmp_path: Path) -> None:
    """Alembic's own `downgrade -1` from a merge revision fails with "Ambiguous walk"."""
    script = _script_with_a_merge(tmp_path)
    assert migrations.step_down_target(script, ("joined",)) == "left"
    assert migrations.step_down_target(script, ("left",)) == "first"
    assert migrations.step_down_target(script, ("first",)) == "base"
    with pytest.raises(CommandError, match=r"several heads \(left, right\): name the revision"):
        migrations.step_down_target(script, ("left", "right"))
