"""Admins' view of the job queue (core/jobs holds the queue and its statements)."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import jobs
from app.core.exceptions import NotFoundError
from app.core.pagination import Page, PageParams
from app.features.jobs.schemas import JobRead

__all__ = ["cancel_job", "count_by_state", "find_job", "list_jobs", "retry_job"]


async def list_jobs(session: AsyncSession, *, params: PageParams, state: jobs.JobState | None) -> Page[JobRead]:
    """A page of jobs, newest first; with `state`, only the jobs in it."""
    found = await jobs.list_jobs(session, state=state, offset=params.offset, limit=params.size)
    total = await jobs.count_jobs(session, state=state)
    return Page[JobRead].build([JobRead.model_validate(job) for job in found], total=total, params=params)


async def find_job(session: AsyncSession, *, job_id: int) -> JobRead | None:
    """One job, or None."""
    try:
        return JobRead.model_validate(await jobs.get_job(session, job_id=job_id))
    except NotFoundError:
        return None


async def count_by_state(session: AsyncSession) -> dict[jobs.JobState, int]:
    """How many jobs are in each state (the queue's depth is the queued ones; the dead wait for an admin)."""
    return {state: await jobs.count_jobs(session, state=state) for state in jobs.JobState}


async def retry_job(session: AsyncSession, *, job_id: int) -> JobRead:
    """Queue a dead or cancelled job again (409 for any other state)."""
    return JobRead.model_validate(await jobs.retry_job(session, job_id=job_id))


async def cancel_job(session: AsyncSession, *, job_id: int) -> JobRead:
    """Cancel a queued or dead job (409 for a running or succeeded one; a cancelled one is returned as is)."""
    return JobRead.model_validate(await jobs.cancel_job(session, job_id=job_id))
