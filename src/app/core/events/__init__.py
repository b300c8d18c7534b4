"""Domain events (docs/events.md): `Events.record(session, type, data)` adds an `event` row in the caller's
transaction and enqueues a job for every job type subscribed to that event type, in the same transaction, so an
event and its jobs exist if and only if the business write commits.
"""

from app.core.events._models import Event
from app.core.events._record import Events
from app.core.events._subscriptions import ANY_EVENT, EventMessage, Subscriptions

__all__ = [
    "ANY_EVENT",
    "Event",
    "EventMessage",
    "Events",
    "Subscriptions",
]
