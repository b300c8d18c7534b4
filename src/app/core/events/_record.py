"""Recording an event and enqueuing its subscribers' jobs, in the caller's transaction."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import utcnow
from app.core.events._models import Event
from app.core.events._subscriptions import EventMessage, installed_subscriptions
from app.core.jobs import enqueue

__all__ = ["record_event"]

_MAX_TYPE_LENGTH = 100  # the `event.type` column


async def record_event(session: AsyncSession, event_type: str, data: dict[str, Any]) -> Event:
    """Add the event to the caller's transaction, and a job for each job type subscribed to `event_type`.

    Nothing is visible until the caller commits; a rollback removes the event and its jobs together. `data` must be
    JSON-serialisable and hold no secrets: subscribers (webhooks) send it to other systems.
    """
    if not 0 < len(event_type) <= _MAX_TYPE_LENGTH:
        msg = f"an event type has 1 to {_MAX_TYPE_LENGTH} characters: {event_type!r}"
        raise ValueError(msg)
    event = Event(type=event_type, data=data, occurred_at=utcnow())
    session.add(event)
    await session.flush()
    subscribers = installed_subscriptions().of(event_type)
    if subscribers:
        message = EventMessage(id=event.id, type=event.type, data=data, occurred_at=event.occurred_at)
        for job_type in subscribers:
            await enqueue(session, job_type, message)
    return event
