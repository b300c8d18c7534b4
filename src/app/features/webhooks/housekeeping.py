"""Old deliveries purged by a built-in periodic job (`webhooks.purge`, hourly): a delivery that finished (succeeded,
or failed for good) more than FORGE_WEBHOOK_DELIVERY_RETENTION_DAYS ago is deleted with its attempts; a pending
one never is, however old. 0 keeps them (no job).

Deleted in batches, each in a transaction of its own, so that no long delete holds locks; a run stops after a time
budget within its job's timeout, and the next run goes on.
"""

import time
from datetime import timedelta

import structlog
from pydantic import BaseModel, Field

from app.config import Settings
from app.core.database import Database, committing, utcnow
from app.core.jobs import Cron, JobContext, Periodic, job_type
from app.features.webhooks import repository

__all__ = ["PURGE_SCHEDULE", "PurgeDeliveries", "purge_deliveries", "purge_deliveries_before", "webhooks_housekeeping"]

_log = structlog.get_logger("app.webhooks")
PURGE_SCHEDULE = Cron("37 * * * *")  # hourly, apart from the events' purge (:23)
_BATCH = 1000
_BUDGET_SECONDS = 20.0


class PurgeDeliveries(BaseModel):
    retention_days: float = Field(gt=0)


async def purge_deliveries_before(
    database: Database, *, retention: timedelta, batch: int = _BATCH, budget_seconds: float = _BUDGET_SECONDS
) -> int:
    """Delete the deliveries that finished more than `retention` ago, with their attempts; the number deleted."""
    cutoff = utcnow() - retention
    deleted = 0
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        async with committing(database.session(writes=True)) as session:
            found = await repository.finished_deliveries_before(session, cutoff=cutoff, limit=batch)
            if found:
                deleted += await repository.delete_finished_deliveries(session, found, cutoff=cutoff)
        if len(found) < batch:
            break
    return deleted


# A short timeout: a worker's lease is its longest job timeout plus a grace, and this type must not lengthen it.
@job_type(name="webhooks.purge", payload=PurgeDeliveries, timeout_seconds=30, max_attempts=3)
async def purge_deliveries(payload: PurgeDeliveries, context: JobContext) -> None:
    """The built-in periodic job: finished deliveries older than the retention, deleted with their attempts."""
    deleted = await purge_deliveries_before(context.database, retention=timedelta(days=payload.retention_days))
    if deleted:
        _log.info("webhook_deliveries_purged", count=deleted, retention_days=payload.retention_days)


def webhooks_housekeeping(settings: Settings) -> tuple[Periodic[PurgeDeliveries], ...]:
    """The built-in periodic jobs of webhooks: the deliveries' purge, unless FORGE_WEBHOOK_DELIVERY_RETENTION_DAYS=0
    keeps them."""
    if not settings.webhook_delivery_retention_days:
        return ()
    payload = PurgeDeliveries(retention_days=settings.webhook_delivery_retention_days)
    return (Periodic(job_type=purge_deliveries, schedule=PURGE_SCHEDULE, payload=payload),)
