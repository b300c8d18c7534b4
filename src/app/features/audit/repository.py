"""SQL for the audit trail: appending and reading. Append-only: there is no update or delete here, by design."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import Keyset, PageParams
from app.features.audit.models import AuditEntry

__all__ = ["NEWEST_FIRST", "AuditQuery", "add", "count", "get", "list_page"]

# The trail's order, newest first: by id, which the entries take in the order they are written.
NEWEST_FIRST = Keyset(AuditEntry.id, descending=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditQuery:
    """Which entries a listing wants; None means any."""

    actor_user_id: int | None = None
    target_type: str | None = None
    target_id: str | None = None
    action: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _conditions(query: AuditQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.actor_user_id is not None:
        conditions.append(AuditEntry.actor_user_id == query.actor_user_id)
    if query.target_type is not None:
        conditions.append(AuditEntry.target_type == query.target_type)
    if query.target_id is not None:
        conditions.append(AuditEntry.target_id == query.target_id)
    if query.action is not None:
        conditions.append(AuditEntry.action == query.action)
    if query.since is not None:
        conditions.append(AuditEntry.occurred_at >= query.since)
    if query.until is not None:
        conditions.append(AuditEntry.occurred_at < query.until)
    return conditions


async def add(session: AsyncSession, entry: AuditEntry) -> AuditEntry:
    session.add(entry)
    await session.flush()
    return entry


async def get(session: AsyncSession, entry_id: int) -> AuditEntry | None:
    return await session.get(AuditEntry, entry_id)


async def list_page(session: AsyncSession, *, query: AuditQuery, params: PageParams) -> Sequence[AuditEntry]:
    """Newest first, one more than the page (see Keyset.split)."""
    statement = NEWEST_FIRST.page(select(AuditEntry).where(*_conditions(query)), params)
    return (await session.execute(statement)).scalars().all()


async def count(session: AsyncSession, *, query: AuditQuery) -> int:
    statement = select(func.count()).select_from(AuditEntry).where(*_conditions(query))
    return (await session.execute(statement)).scalar_one()
