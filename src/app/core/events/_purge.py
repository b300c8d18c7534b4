"""Old events purged by a built-in periodic job (`events.purge`, hourly), FORGE_EVENTS_RETENTION_DAYS after they
occurred; 0 keeps them forever (no job).

Ids grow with time, so the events to delete are the ids below the first one that occurred after the cutoff: found
by one scan of the old rows along the primary key (no index on `occurred_at` needed, none paid for per event),
then deleted in batches of their own transactions, so that no long delete holds locks or a long write transaction.
An event written with a smaller id but a later time (another host's clock) stops the boundary early: only events
older than the cutoff are ever deleted, and the ones behind it go at a later run.
"""

import time
from datetime import datetime, timedelta

import structlog
from pydantic import BaseModel, Field
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.database import Database, committing, utcnow
from app.core.events._models import Event
from app.core.jobs import Cron, JobContext, Periodic, job_type

__all__ = ["PURGE_SCHEDULE", "PurgeEvents", "events_housekeeping", "purge_events", "purge_events_before"]

_log = structlog.get_logger("app.events")
PURGE_SCHEDULE = Cron("23 * * * *")  # hourly, off the full hour that other schedules favour
_BATCH = 5000
_BUDGET_SECONDS = 20.0  # within the job's timeout; the next run goes on where this one stopped


class PurgeEvents(BaseModel):
    retention_days: float = Field(gt=0)


async def _boundary(session: AsyncSession, cutoff: datetime) -> int | None:
    """The first id at or after the cutoff, or one past the last id when every event is older; None: no event."""
    first_kept = await session.scalar(select(Event.id).where(Event.occurred_at >= cutoff).order_by(Event.id).limit(1))
    if first_kept is not None:
        return int(first_kept)
    last = await session.scalar(select(func.max(Event.id)))
    return None if last is None else int(last) + 1


async def purge_events_before(
    database: Database, *, retention: timedelta, batch: int = _BATCH, budget_seconds: float = _BUDGET_SECONDS
) -> int:
    """Delete the events that occurred more than `retention` ago, `batch` at a time; the number deleted."""
    cutoff = utcnow() - retention
    async with database.session(writes=False) as session:
        boundary = await _boundary(session, cutoff)
        lowest = await session.scalar(select(func.min(Event.id)))
    if boundary is None or lowest is None:
        return 0
    deleted = 0
    deadline = time.monotonic() + budget_seconds
    while lowest < boundary and time.monotonic() < deadline:
        upper = min(lowest + batch, boundary)
        async with committing(database.session(writes=True)) as session:
            result = await session.execute(
                delete(Event).where(Event.id < upper).execution_options(synchronize_session=False)
            )
        deleted += int(getattr(result, "rowcount", 0))
        lowest = upper
    return deleted


# A short timeout: a worker's lease is its longest job timeout plus a grace, and this type must not lengthen it.
@job_type(name="events.purge", payload=PurgeEvents, timeout_seconds=30, max_attempts=3)
async def purge_events(payload: PurgeEvents, context: JobContext) -> None:
    """The built-in periodic job: the events older than the retention, deleted."""
    deleted = await purge_events_before(context.database, retention=timedelta(days=payload.retention_days))
    if deleted:
        _log.info("events_purged", count=deleted, retention_days=payload.retention_days)


def events_housekeeping(settings: Settings) -> tuple[Periodic[PurgeEvents], ...]:
    """The built-in periodic jobs of events: their purge, unless FORGE_EVENTS_RETENTION_DAYS=0 keeps them."""
    if not settings.events_retention_days:
        return ()
    payload = PurgeEvents(retention_days=settings.events_retention_days)
    return (Periodic(job_type=purge_events, schedule=PURGE_SCHEDULE, payload=payload),)
