"""The audit trail is append-only: on PostgreSQL its table refuses UPDATE, DELETE and TRUNCATE from anyone, the
application's own connection included; entries are only ever added."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.core.context import AppContext
from app.features.audit.models import AuditEntry
from tests.support.audit import audit_as, clear_audit, entries

ACTOR = 2_000_003


@pytest.fixture
async def postgresql(engine: AsyncEngine, database_url: str) -> AsyncIterator[AsyncEngine]:
    if not database_url.startswith("postgresql"):
        pytest.skip("the append-only trigger is PostgreSQL's (SQLite has none)")
    yield engine
    await clear_audit(engine)


async def _committed_entry(context: AppContext) -> int:
    """An entry recorded as a service records one, committed by the app's own database."""
    async with context.database.session(writes=True) as session, session.begin():
        await audit_as(ACTOR).record(
            session, action="product.update", target_type="product", target_id=1, before={"a": 1}, after={"a": 2}
        )
    async with context.database.session(writes=False) as session:
        [entry] = await entries(session, actor_user_id=ACTOR)
        return entry.id


async def _refused(connection: AsyncConnection, statement: str) -> None:
    async with connection.begin():
        with pytest.raises(DBAPIError, match="audit_entry is append-only"):
            await connection.execute(text(statement))


async def test_entries_cannot_be_changed_or_removed(postgresql: AsyncEngine, context: AppContext) -> None:
    entry_id = await _committed_entry(context)
    async with postgresql.connect() as connection:
        await _refused(connection, f"UPDATE audit_entry SET action = 'covered.up' WHERE id = {entry_id}")  # noqa: S608
        await _refused(connection, f"DELETE FROM audit_entry WHERE id = {entry_id}")  # noqa: S608
        await _refused(connection, "TRUNCATE audit_entry")
    async with context.database.session(writes=True) as session:  # the app's own sessions, through the ORM
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(update(AuditEntry).where(AuditEntry.id == entry_id).values(action="covered.up"))
        await session.rollback()
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(delete(AuditEntry).where(AuditEntry.id == entry_id))
        await session.rollback()
    async with context.database.session(writes=False) as session:
        [entry] = await entries(session, actor_user_id=ACTOR)
        assert (entry.id, entry.action, entry.before, entry.after) == (entry_id, "product.update", {"a": 1}, {"a": 2})


async def test_the_trail_takes_new_entries_in_the_recording_transaction_only(
    db_session: AsyncSession, context: AppContext
) -> None:
    """A rolled-back transaction takes its entry with it (SQLite and PostgreSQL)."""
    async with context.database.session(writes=True) as session:
        await audit_as(ACTOR + 1).record(session, action="job.retry", target_type="job", target_id=5)
        assert len(await entries(session, actor_user_id=ACTOR + 1)) == 1
        await session.rollback()
    assert await entries(db_session, actor_user_id=ACTOR + 1) == []
