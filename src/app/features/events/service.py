"""Admins' view of the domain events (core/events records and purges them)."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import events
from app.core.pagination import Page, PageParams
from app.features.events.schemas import EventRead

__all__ = ["list_events"]


async def list_events(session: AsyncSession, *, params: PageParams, event_type: str | None) -> Page[EventRead]:
    """A page of events, newest first; with `event_type`, only the events of that type."""
    rows = await events.list_events(session, event_type=event_type, params=params)
    total = await events.count_events(session, event_type=event_type) if params.include_total else None
    found, next_cursor = events.NEWEST_EVENTS_FIRST.split(rows, params)
    items = [EventRead.model_validate(event) for event in found]
    return Page[EventRead].build(items, total=total, params=params, next_cursor=next_cursor)
