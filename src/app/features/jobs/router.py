from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.core.database import DBSession
from app.core.identifiers import ResourceID
from app.core.jobs import JobState
from app.core.pagination import Page, Pagination
from app.features.auth.dependencies import AdminAudit, AdminUser
from app.features.jobs import service
from app.features.jobs.schemas import JobRead
from app.shared.routing import ForgeRoute

__all__ = ["router"]

router = APIRouter(prefix="/admin/jobs", tags=["jobs"], route_class=ForgeRoute)

_STATE_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The job's state does not allow it (`invalid-job-state`)."}
}


@router.get("")
async def list_jobs(
    session: DBSession,
    _admin: AdminUser,
    pagination: Pagination,
    state: Annotated[JobState | None, Query(description="Only the jobs in this state.")] = None,
) -> Page[JobRead]:
    return await service.list_jobs(session, params=pagination, state=state)


@router.post("/{job_id}/retry", responses=_STATE_CONFLICT)
async def retry_job(job_id: ResourceID, session: DBSession, audit: AdminAudit) -> JobRead:
    """Queue a dead or cancelled job again, due now, with all its attempts."""
    return await service.retry_job(session, job_id=job_id, audit=audit)


@router.post("/{job_id}/cancel", responses=_STATE_CONFLICT)
async def cancel_job(job_id: ResourceID, session: DBSession, audit: AdminAudit) -> JobRead:
    """Cancel a queued (or scheduled, or awaiting a retry) or dead job. A running job cannot be cancelled."""
    return await service.cancel_job(session, job_id=job_id, audit=audit)
