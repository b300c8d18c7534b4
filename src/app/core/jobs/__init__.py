"""A durable job queue on the app's own database (SQLite or PostgreSQL): docs/jobs.md.

`enqueue(session, job_type, payload)` adds a row in the caller's transaction, so a job exists if and only if the
write that enqueued it commits. A `Worker` (inside `forge serve`, or `forge worker` processes) claims due jobs
(PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one writer at a time), runs them with their type's timeout, and
retries failures with exponential backoff and jitter (or when a handler's `RetryLater` asks) until the type's last
attempt, after which the job is dead (at once when a handler raises `GiveUp`).
"""

from app.core.jobs._admin import (
    NEWEST_JOBS_FIRST,
    JobStateError,
    cancel_job,
    count_by_state,
    count_jobs,
    get_job,
    list_jobs,
    retry_job,
)
from app.core.jobs._models import Job, JobState
from app.core.jobs._periodic import Cron, Every, Periodic, Schedule
from app.core.jobs._registry import (
    Backoff,
    GiveUp,
    Handler,
    JobContext,
    JobRegistry,
    JobType,
    RetryLater,
    job_type,
)
from app.core.jobs._store import EnqueuedObserver, counting_enqueued, enqueue
from app.core.jobs._worker import Worker, configured_worker

__all__ = [
    "NEWEST_JOBS_FIRST",
    "Backoff",
    "Cron",
    "EnqueuedObserver",
    "Every",
    "GiveUp",
    "Handler",
    "Job",
    "JobContext",
    "JobRegistry",
    "JobState",
    "JobStateError",
    "JobType",
    "Periodic",
    "RetryLater",
    "Schedule",
    "Worker",
    "cancel_job",
    "configured_worker",
    "count_by_state",
    "count_jobs",
    "counting_enqueued",
    "enqueue",
    "get_job",
    "job_type",
    "list_jobs",
    "retry_job",
]
