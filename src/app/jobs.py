"""The app's job types (docs/jobs.md), as `models.py` holds its models: what the workers run.

`forge serve`'s embedded worker and `forge worker` processes both run the types listed here. A feature declares its
job types (`@job_type(...)` on the handler) and adds them to `job_types()`; a job type with an `EventMessage`
payload that should run for every event of a type is listed in `event_subscriptions()` (docs/events.md).
"""

from typing import Any

from app.config import Settings
from app.core.events import ANY_EVENT, Subscriptions, events_housekeeping
from app.core.jobs import JobRegistry, JobType, Periodic
from app.core.mail import send_mail
from app.features.sessions import jobs as sessions
from app.features.users import jobs as users
from app.features.webhooks import dispatch as webhooks
from app.features.webhooks.housekeeping import webhooks_housekeeping

__all__ = ["event_subscriptions", "job_registry", "job_types", "periodic_jobs"]


def job_types() -> tuple[JobType[Any], ...]:
    """Every job type of the app."""
    # Mail any feature queues (docs/mail.md); webhook deliveries; password reset links (mailed by a job, so that a
    # request does the same work whether or not an account has the address: docs/security.md#password-reset).
    return (send_mail, webhooks.DELIVER, users.MAIL_PASSWORD_RESET)


def periodic_jobs() -> tuple[Periodic[Any], ...]:
    """The jobs enqueued on a schedule: `Periodic(job_type=..., schedule=Cron("0 3 * * *"), payload=...)`."""
    # Housekeeping, daily: expired reset and verification tokens, and sessions that ended over a week ago.
    return (users.DAILY_PURGE, sessions.DAILY_PURGE)


def event_subscriptions() -> Subscriptions:
    """The job types enqueued, in the event's transaction, when an event is recorded: `{"order.placed": (...)}`;
    those under ANY_EVENT for every event (webhooks, whose endpoints choose their event types at runtime)."""
    return Subscriptions({ANY_EVENT: [webhooks.FAN_OUT]})


def job_registry(settings: Settings) -> JobRegistry:
    """The job types the workers run: those listed above, every subscriber of an event, and the built-in periodic
    jobs (old events purged after FORGE_EVENTS_RETENTION_DAYS, finished webhook deliveries after
    FORGE_WEBHOOK_DELIVERY_RETENTION_DAYS)."""
    subscribed = [kind for kind in event_subscriptions().job_types if kind not in job_types()]
    built_in: tuple[Periodic[Any], ...] = (*events_housekeeping(settings), *webhooks_housekeeping(settings))
    return JobRegistry((*job_types(), *subscribed), periodic=(*periodic_jobs(), *built_in))
