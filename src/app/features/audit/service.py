"""The audit trail: `AuditLog`, where every admin action is appended in the action's transaction (the app's
`AppContext.audit`), and the admins' listing of it. Entries are never changed or deleted (docs/security.md)."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import AdminAction
from app.core.pagination import Page, PageParams
from app.features.audit import repository
from app.features.audit.models import AuditEntry
from app.features.audit.schemas import AuditEntryRead, AuditFilters

__all__ = ["AuditLog", "count_entries", "find_entry", "list_entries"]


class AuditLog:
    """The app's `AuditTrail`: an admin action becomes an `audit_entry` row in the action's session."""

    async def append(self, session: AsyncSession, action: AdminAction) -> None:
        entry = AuditEntry(
            actor_user_id=action.actor.user_id,
            actor_api_key_id=action.actor.api_key_id,
            action=action.action,
            target_type=action.target_type,
            target_id=action.target_id,
            request_id=action.request_id,
            before=action.before,
            after=action.after,
        )
        await repository.add(session, entry)


async def list_entries(session: AsyncSession, *, params: PageParams, filters: AuditFilters) -> Page[AuditEntryRead]:
    """A page of entries matching every filter given, newest first."""
    query = _query(filters)
    rows = await repository.list_page(session, query=query, params=params)
    total = await repository.count(session, query=query) if params.include_total else None
    entries, next_cursor = repository.NEWEST_FIRST.split(rows, params)
    items = [AuditEntryRead.model_validate(e) for e in entries]
    return Page[AuditEntryRead].build(items, total=total, params=params, next_cursor=next_cursor)


async def count_entries(session: AsyncSession, *, filters: AuditFilters) -> int:
    """How many entries match every filter given."""
    return await repository.count(session, query=_query(filters))


async def find_entry(session: AsyncSession, *, entry_id: int) -> AuditEntryRead | None:
    """One entry, or None."""
    entry = await repository.get(session, entry_id)
    return None if entry is None else AuditEntryRead.model_validate(entry)


def _query(filters: AuditFilters) -> repository.AuditQuery:
    return repository.AuditQuery(
        actor_user_id=filters.actor_user_id,
        target_type=filters.target_type,
        target_id=filters.target_id,
        action=filters.action,
        since=filters.since,
        until=filters.until,
    )
