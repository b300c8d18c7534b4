"""Admins' view of the job queue (core/jobs holds the queue and its statements)."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import jobs
from app.core.audit import Audit, Snapshot, snapshot
from app.core.exceptions import NotFoundError
from app.core.pagination import Page, PageParams
from app.features.jobs.schemas import JobRead

__all__ = ["cancel_job", "count_jobs", "find_job", "list_jobs", "retry_job"]

_AUDITED = ("state", "attempts", "run_at")  # what retrying and cancelling change, as audited


async def list_jobs(session: AsyncSession, *, params: PageParams, state: jobs.JobState | None) -> Page[JobRead]:
    """A page of jobs, newest first; with `state`, only the jobs in it."""
    rows = await jobs.list_jobs(session, state=state, params=params)
    total = await jobs.count_jobs(session, state=state) if params.include_total else None
    found, next_cursor = jobs.NEWEST_JOBS_FIRST.split(rows, params)
    items = [JobRead.model_validate(job) for job in found]
    return Page[JobRead].build(items, total=total, params=params, next_cursor=next_cursor)


async def count_jobs(session: AsyncSession, *, state: jobs.JobState | None) -> int:
    """How many jobs there are (in `state`, when given)."""
    return await jobs.count_jobs(session, state=state)


async def find_job(session: AsyncSession, *, job_id: int) -> JobRead | None:
    """One job, or None."""
    try:
        return JobRead.model_validate(await jobs.get_job(session, job_id=job_id))
    except NotFoundError:
        return None


async def retry_job(session: AsyncSession, *, job_id: int, audit: Audit) -> JobRead:
    """Queue a dead or cancelled job again (409 for any other state), recorded with `audit`."""
    before = snapshot(await jobs.get_job(session, job_id=job_id), _AUDITED)
    job = await jobs.retry_job(session, job_id=job_id)
    await _audit(session, audit, "job.retry", job, before=before)
    return JobRead.model_validate(job)


async def cancel_job(session: AsyncSession, *, job_id: int, audit: Audit) -> JobRead:
    """Cancel a queued or dead job (409 for a running or succeeded one; a cancelled one is returned as is),
    recorded with `audit`."""
    before = snapshot(await jobs.get_job(session, job_id=job_id), _AUDITED)
    job = await jobs.cancel_job(session, job_id=job_id)
    await _audit(session, audit, "job.cancel", job, before=before)
    return JobRead.model_validate(job)


async def _audit(session: AsyncSession, audit: Audit, action: str, job: jobs.Job, *, before: Snapshot) -> None:
    after = snapshot(job, _AUDITED)
    await audit.record(session, action=action, target_type="job", target_id=job.id, before=before, after=after)
