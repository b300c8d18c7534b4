"""Which job types run for which event types: declared in app/jobs.py, given to the app's `Events`."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.core.jobs import JobType

__all__ = ["ANY_EVENT", "EventMessage", "Subscriptions"]

# Subscribes a job type to every event type: a subscriber that decides for itself which events concern it (webhooks,
# whose endpoints choose their event types at runtime, or an audit trail).
ANY_EVENT = "*"


class EventMessage(BaseModel):
    """The payload of a job run for an event: the event as recorded."""

    id: int
    type: str
    data: dict[str, Any]
    occurred_at: datetime


class Subscriptions:
    """Event type -> the job types enqueued when such an event is recorded (each once, in the order given); those
    listed under `ANY_EVENT` are enqueued for every event, after the event type's own."""

    def __init__(self, subscribers: Mapping[str, Iterable[JobType[EventMessage]]] | None = None) -> None:
        self._subscribers: dict[str, tuple[JobType[EventMessage], ...]] = {}
        for event_type, job_types in (subscribers or {}).items():
            unique = tuple(dict.fromkeys(job_types))
            if len({kind.name for kind in unique}) != len(unique):
                msg = f"event type {event_type!r}: two subscribed job types share a name"
                raise ValueError(msg)
            self._subscribers[event_type] = unique

    def of(self, event_type: str) -> tuple[JobType[EventMessage], ...]:
        own, every = self._subscribers.get(event_type, ()), self._subscribers.get(ANY_EVENT, ())
        return tuple(dict.fromkeys((*own, *every))) if every else own

    @property
    def job_types(self) -> tuple[JobType[EventMessage], ...]:
        """Every subscribed job type, once: the workers must run them."""
        return tuple(dict.fromkeys(kind for kinds in self._subscribers.values() for kind in kinds))
