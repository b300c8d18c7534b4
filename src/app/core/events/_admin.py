"""Admins' view of the events: newest first, optionally of one type."""

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.events._models import Event
from app.core.pagination import Keyset, PageParams

__all__ = ["NEWEST_EVENTS_FIRST", "count_events", "list_events"]

# The listing's order: the primary key's index, and (type, id) for one type's events.
NEWEST_EVENTS_FIRST = Keyset(Event.id, descending=True)


async def list_events(session: AsyncSession, *, event_type: str | None, params: PageParams) -> Sequence[Event]:
    """Newest first: a page of `params`, and one event more (see Keyset.split)."""
    statement = select(Event)
    if event_type is not None:
        statement = statement.where(Event.type == event_type)
    statement = NEWEST_EVENTS_FIRST.page(statement, params)
    return (await session.execute(statement)).scalars().all()


async def count_events(session: AsyncSession, *, event_type: str | None) -> int:
    statement = select(func.count()).select_from(Event)
    if event_type is not None:
        statement = statement.where(Event.type == event_type)
    return (await session.execute(statement)).scalar_one()
