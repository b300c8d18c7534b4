"""Domain events (docs/events.md): `Events.record(session, type, data)` adds an `event` row in the caller's
transaction and enqueues a job for every job type subscribed to that event type, in the same transaction, so an
event and its jobs exist if and only if the business write commits. Events are purged by a built-in periodic job
FORGE_EVENTS_RETENTION_DAYS after they occurred.
"""

from app.core.events._admin import NEWEST_EVENTS_FIRST, count_events, list_events
from app.core.events._models import Event
from app.core.events._purge import PurgeEvents, events_housekeeping, purge_events, purge_events_before
from app.core.events._record import Events
from app.core.events._subscriptions import ANY_EVENT, EventMessage, Subscriptions

__all__ = [
    "ANY_EVENT",
    "NEWEST_EVENTS_FIRST",
    "Event",
    "EventMessage",
    "Events",
    "PurgeEvents",
    "Subscriptions",
    "count_events",
    "events_housekeeping",
    "list_events",
    "purge_events",
    "purge_events_before",
]
