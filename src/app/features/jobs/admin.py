"""The job queue in the admin console: jobs by state, each with its payload and last error; dead or cancelled jobs
queued again and queued or dead ones cancelled through this feature's service (the dashboard's queue panel is the
dashboard feature's)."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.status import HTTP_400_BAD_REQUEST
from starlette_admin import (
    DateTimeField,
    EnumField,
    IntegerField,
    JSONField,
    StringField,
    TextAreaField,
    row_action,
)
from starlette_admin.filters import FilterGroup

from app.core.audit import Audit
from app.core.jobs import JobState
from app.features.jobs import service
from app.features.jobs.schemas import JobRead
from app.shared.console import (
    UNSEARCHED,
    ConsoleSection,
    OneOf,
    ServiceView,
    chosen,
    integer_pk,
    page_of,
    read_session,
    rules_of,
)

__all__ = ["section"]

_RETRYABLE = {JobState.DEAD, JobState.CANCELLED}
_CANCELLABLE = {JobState.QUEUED, JobState.DEAD}


def _state(filters: FilterGroup | None) -> JobState | None:
    """The one state the list's filter picked: the service lists one state, or all (400 for more than one, rather
    than a list of every job)."""
    rule = rules_of(filters).get("state")
    states = {JobState(value) for value in chosen(filters, "state") if value in JobState} if rule else set()
    if len(states) > 1:
        raise HTTPException(HTTP_400_BAD_REQUEST, "The jobs are listed by one state at a time: pick one.")
    return states.pop() if states else None


class JobsView(ServiceView):
    key = "jobs"
    menu_label = "Jobs"
    display_name = "Job"
    icon = "fa fa-gears"
    pk_attr = "id"
    fields = (
        IntegerField("id", label="ID"),
        StringField("type"),
        EnumField("state", enum=JobState, filters=[OneOf]),
        IntegerField("attempts"),
        IntegerField("max_attempts", exclude_from_list=True),
        DateTimeField("run_at"),
        JSONField("payload", exclude_from_list=True),
        TextAreaField("last_error", exclude_from_list=True),
        StringField("worker", exclude_from_list=True),
        DateTimeField("created_at", exclude_from_list=True),
        DateTimeField("finished_at", exclude_from_list=True),
    )
    searchable_fields = ("state",)  # what the filter builder offers (the search box is left out)
    sortable_fields = ()
    list_template = UNSEARCHED

    def can_create(self, request: Request) -> bool:
        return False

    def can_edit(self, request: Request) -> bool:
        return False

    def can_delete(self, request: Request) -> bool:
        return False

    async def repr(self, obj: Any, request: Request) -> str:
        return f"Job {obj.id} ({obj.type})"

    async def find_all(
        self,
        request: Request,
        skip: int = 0,
        limit: int = 100,
        q: str | None = None,
        sorts: Sequence[tuple[str, str]] | None = None,
        filters: FilterGroup | None = None,
    ) -> Sequence[JobRead]:
        async with read_session(request) as session:
            page = await service.list_jobs(session, params=page_of(skip, limit), state=_state(filters))
        return page.items

    async def count(self, request: Request, q: str | None = None, filters: FilterGroup | None = None) -> int:
        async with read_session(request) as session:
            return await service.count_jobs(session, state=_state(filters))

    async def find_by_pk(self, request: Request, pk: Any) -> JobRead | None:
        job_id = integer_pk(pk)
        if job_id is None:
            return None
        async with read_session(request) as session:
            return await service.find_job(session, job_id=job_id)

    async def is_row_action_allowed_for_obj(self, request: Request, name: str, obj: Any) -> bool:
        if name == "retry":
            return obj.state in _RETRYABLE
        if name == "cancel":
            return obj.state in _CANCELLABLE
        return await super().is_row_action_allowed_for_obj(request, name, obj)

    @row_action(name="retry", text="Retry", confirmation="Queue this job again?", icon_class="fa fa-rotate-right")
    async def retry(self, request: Request, pk: Any) -> str:
        job_id = integer_pk(pk) or 0

        async def retry(session: AsyncSession, audit: Audit) -> None:
            await service.retry_job(session, job_id=job_id, audit=audit)

        await self.act(request, "retry", str(pk), retry)
        return f"Job {pk} is queued again."

    @row_action(name="cancel", text="Cancel", confirmation="Cancel this job?", icon_class="fa fa-ban")
    async def cancel(self, request: Request, pk: Any) -> str:
        job_id = integer_pk(pk) or 0

        async def cancel(session: AsyncSession, audit: Audit) -> None:
            await service.cancel_job(session, job_id=job_id, audit=audit)

        await self.act(request, "cancel", str(pk), cancel)
        return f"Job {pk} is cancelled."


section = ConsoleSection(views=(JobsView,))
