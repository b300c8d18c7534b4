"""Operating the queue: list jobs, retry a dead or cancelled one, cancel one that has not run yet."""

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import utcnow
from app.core.exceptions import ConflictError, found
from app.core.jobs._models import Job, JobState
from app.core.jobs._store import notify
from app.core.pagination import Keyset, PageParams

__all__ = [
    "NEWEST_JOBS_FIRST",
    "JobStateError",
    "cancel_job",
    "count_by_state",
    "count_jobs",
    "get_job",
    "list_jobs",
    "retry_job",
]

RETRYABLE = (JobState.DEAD, JobState.CANCELLED)
CANCELLABLE = (JobState.QUEUED, JobState.DEAD)


class JobStateError(ConflictError):
    """The job's state does not allow the change asked for (retrying a running job, cancelling a finished one)."""

    slug = "invalid-job-state"
    title = "Invalid Job State"


# The listing's order: the primary key's index, and (state, id) for one state's jobs.
NEWEST_JOBS_FIRST = Keyset(Job.id, descending=True)


async def list_jobs(session: AsyncSession, *, state: JobState | None, params: PageParams) -> Sequence[Job]:
    """Newest first: a page of `params`, and one job more (see Keyset.split)."""
    statement = select(Job)
    if state is not None:
        statement = statement.where(Job.state == state)
    statement = NEWEST_JOBS_FIRST.page(statement, params)
    return (await session.execute(statement)).scalars().all()


async def count_jobs(session: AsyncSession, *, state: JobState | None) -> int:
    statement = select(func.count()).select_from(Job)
    if state is not None:
        statement = statement.where(Job.state == state)
    return (await session.execute(statement)).scalar_one()


async def count_by_state(session: AsyncSession) -> dict[JobState, int]:
    """How many jobs are in each state (every state, 0 included)."""
    counts = dict.fromkeys(JobState, 0)
    for state, count in await session.execute(select(Job.state, func.count()).group_by(Job.state)):
        counts[JobState(state)] = int(count)
    return counts


async def get_job(session: AsyncSession, *, job_id: int) -> Job:
    return found(await session.get(Job, job_id, populate_existing=True), f"Job {job_id} not found.")


async def _transition(session: AsyncSession, *, job_id: int, allowed: Sequence[JobState], **values: object) -> bool:
    statement = (
        update(Job)
        .where(Job.id == job_id, Job.state.in_(allowed))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(await session.execute(statement), "rowcount", 0)) > 0


async def retry_job(session: AsyncSession, *, job_id: int) -> Job:
    """Queue a dead or cancelled job again, due now, with all its attempts; its last error stays until it runs."""
    changed = await _transition(
        session, job_id=job_id, allowed=RETRYABLE, state=JobState.QUEUED, attempts=0, run_at=utcnow(), finished_at=None
    )
    job = await get_job(session, job_id=job_id)
    if not changed:
        raise JobStateError(f"Job {job_id} is {job.state}: only dead or cancelled jobs can be retried.")
    await notify(session)
    return job


async def cancel_job(session: AsyncSession, *, job_id: int) -> Job:
    """Cancel a job that is queued (new, scheduled or awaiting a retry) or dead. Cancelling a cancelled job
    changes nothing; a running or succeeded one cannot be cancelled."""
    changed = await _transition(
        session, job_id=job_id, allowed=CANCELLABLE, state=JobState.CANCELLED, finished_at=utcnow()
    )
    job = await get_job(session, job_id=job_id)
    if not changed and job.state != JobState.CANCELLED:
        raise JobStateError(f"Job {job_id} is {job.state}: only queued or dead jobs can be cancelled.")
    return job
