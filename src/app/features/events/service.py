"""Admins' view of the domain events (core/events records and purges them)."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import events
from app.core.pagination import Page, PageParams
from app.features.events.schemas import EventRead

__all__ = ["list_events"]


async def list_events(session: AsyncSession, *, params: PageParams, event_type: str | None) -> Page[EventRead]:
    """A page of events, newest first; with `event_type`, only the events of that type."""
    found = await events.list_events(session, event_type=event_type, offset=params.offset, limit=params.size)
    total = await events.count_events(session, event_type=event_type)
    return Page[EventRead].build([EventRead.model_validate(event) for event in found], total=total, params=params)
