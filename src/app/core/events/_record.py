"""`Events`: recording an event and enqueuing its subscribers' jobs, in the caller's transaction."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import utcnow
from app.core.events._models import Event
from app.core.events._subscriptions import ANY_EVENT, EventMessage, Subscriptions
from app.core.jobs import enqueue

__all__ = ["Events"]

_MAX_TYPE_LENGTH = 100  # the `event.type` column


class Events:
    """The app's events (`AppContext.events`): each recorded with the write it describes, and a job for each job
    type its subscriptions name for that event type."""

    def __init__(self, subscriptions: Subscriptions) -> None:
        self.subscriptions = subscriptions

    async def record(self, session: AsyncSession, event_type: str, data: dict[str, Any]) -> Event:
        """Add the event to the caller's transaction, and a job for each job type subscribed to `event_type`.

        Nothing is visible until the caller commits; a rollback removes the event and its jobs together. `data`
        must be JSON-serialisable and hold no secrets: subscribers (webhooks) send it to other systems.
        """
        if not 0 < len(event_type) <= _MAX_TYPE_LENGTH or event_type == ANY_EVENT:
            msg = f"an event type has 1 to {_MAX_TYPE_LENGTH} characters and is not {ANY_EVENT!r}: {event_type!r}"
            raise ValueError(msg)
        event = Event(type=event_type, data=data, occurred_at=utcnow())
        session.add(event)
        await session.flush()
        subscribers = self.subscriptions.of(event_type)
        if subscribers:
            message = EventMessage(id=event.id, type=event.type, data=data, occurred_at=event.occurred_at)
            for job_type in subscribers:
                await enqueue(session, job_type, message)
        return event
