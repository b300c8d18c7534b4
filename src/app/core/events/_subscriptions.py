"""Which job types run for which event types: declared in app/jobs.py, installed when the app or a worker starts."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.core.jobs import JobType

__all__ = ["EventMessage", "Subscriptions", "install_subscriptions", "installed_subscriptions"]


class EventMessage(BaseModel):
    """The payload of a job run for an event: the event as recorded."""

    id: int
    type: str
    data: dict[str, Any]
    occurred_at: datetime


class Subscriptions:
    """Event type -> the job types enqueued when such an event is recorded (each once, in the order given)."""

    def __init__(self, subscribers: Mapping[str, Iterable[JobType[EventMessage]]] | None = None) -> None:
        self._subscribers: dict[str, tuple[JobType[EventMessage], ...]] = {}
        for event_type, job_types in (subscribers or {}).items():
            unique = tuple(dict.fromkeys(job_types))
            if len({kind.name for kind in unique}) != len(unique):
                msg = f"event type {event_type!r}: two subscribed job types share a name"
                raise ValueError(msg)
            self._subscribers[event_type] = unique

    def of(self, event_type: str) -> tuple[JobType[EventMessage], ...]:
        return self._subscribers.get(event_type, ())

    @property
    def job_types(self) -> tuple[JobType[EventMessage], ...]:
        """Every subscribed job type, once: the workers must run them."""
        return tuple(dict.fromkeys(kind for kinds in self._subscribers.values() for kind in kinds))


# Process-wide, as the app's models are: features record events without being handed the app's job types.
_installed = Subscriptions()


def install_subscriptions(subscriptions: Subscriptions) -> None:
    """Make `subscriptions` the ones `record_event` enqueues for (the app and `forge worker` do, at start)."""
    global _installed  # noqa: PLW0603 - one declaration per process, like the models' metadata
    _installed = subscriptions


def installed_subscriptions() -> Subscriptions:
    return _installed
