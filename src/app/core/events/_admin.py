"""Admins' view of the events: newest first, optionally of one type."""

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.events._models import Event

__all__ = ["count_events", "list_events"]


async def list_events(session: AsyncSession, *, event_type: str | None, offset: int, limit: int) -> Sequence[Event]:
    """Newest first."""
    statement = select(Event).order_by(Event.id.desc()).offset(offset).limit(limit)
    if event_type is not None:
        statement = statement.where(Event.type == event_type)
    return (await session.execute(statement)).scalars().all()


async def count_events(session: AsyncSession, *, event_type: str | None) -> int:
    statement = select(func.count()).select_from(Event)
    if event_type is not None:
        statement = statement.where(Event.type == event_type)
    return (await session.execute(statement)).scalar_one()
