"""Dynamic endpoint specs in the admin console, through this feature's service: the specs listed and each shown with
its schemas and example; enabled and disabled (a disabled spec is kept, with a collection's documents, but not
served), recorded by the service as `endpoint_spec.enable` / `endpoint_spec.disable`. Specs are written through the
API or `forge endpoints import`, where their JSON is reviewed as code."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette_admin import BooleanField, DateTimeField, IntegerField, JSONField, StringField, row_action
from starlette_admin.filters import FilterGroup

from app.core.audit import Audit
from app.core.context import context_of
from app.core.exceptions import NotFoundError
from app.core.pagination import PageParams
from app.features.dynamic_endpoints import service
from app.features.dynamic_endpoints.schemas import EndpointSpecRead
from app.features.dynamic_endpoints.state import EndpointRuntime
from app.shared.console import UNSEARCHED, ConsoleSection, ServiceView, integer_pk, page_of, read_session

__all__ = ["section"]


class EndpointSpecsView(ServiceView):
    key = "endpoint-specs"
    menu_label = "Endpoint specs"
    display_name = "Endpoint spec"
    icon = "fa fa-route"
    pk_attr = "id"
    fields = (
        IntegerField("id", label="ID"),
        StringField("name"),
        StringField("method"),
        StringField("path"),
        StringField("kind"),
        StringField("auth"),
        BooleanField("enabled", label="Served"),
        StringField("summary", exclude_from_list=True),
        JSONField("request_schema", exclude_from_list=True),
        JSONField("response_schema", exclude_from_list=True),
        JSONField("example", exclude_from_list=True),
        IntegerField("version"),
        IntegerField("updated_by", label="Updated by", exclude_from_list=True),
        DateTimeField("updated_at", label="Updated"),
    )
    searchable_fields = ()
    sortable_fields = ()
    list_template = UNSEARCHED

    def can_create(self, request: Request) -> bool:
        return False  # written through the API or `forge endpoints import`

    def can_edit(self, request: Request) -> bool:
        return False

    def can_delete(self, request: Request) -> bool:
        return False  # a collection's documents go with it: the API's DELETE, deliberately

    async def repr(self, obj: Any, request: Request) -> str:
        return f"{obj.name} ({obj.path})"

    async def find_all(
        self,
        request: Request,
        skip: int = 0,
        limit: int = 100,
        q: str | None = None,
        sorts: Sequence[tuple[str, str]] | None = None,
        filters: FilterGroup | None = None,
    ) -> Sequence[EndpointSpecRead]:
        async with read_session(request) as session:
            return (await service.list_specs(session, params=page_of(skip, limit))).items

    async def count(self, request: Request, q: str | None = None, filters: FilterGroup | None = None) -> int:
        async with read_session(request) as session:
            return (await service.list_specs(session, params=PageParams(size=1))).total or 0

    async def find_by_pk(self, request: Request, pk: Any) -> EndpointSpecRead | None:
        spec_id = integer_pk(pk)
        if spec_id is None:
            return None
        async with read_session(request) as session:
            try:
                return EndpointSpecRead.model_validate(await service.get_spec(session, spec_id=spec_id))
            except NotFoundError:
                return None

    async def is_row_action_allowed_for_obj(self, request: Request, name: str, obj: Any) -> bool:
        shown: dict[str, bool] = {"enable": not obj.enabled, "disable": obj.enabled}
        if name in shown:
            return shown[name]
        return await super().is_row_action_allowed_for_obj(request, name, obj)

    async def _set_enabled(self, request: Request, pk: Any, *, enabled: bool) -> None:
        spec_id = integer_pk(pk) or 0
        runtime = context_of(request).component(EndpointRuntime)

        async def change(session: AsyncSession, audit: Audit) -> None:
            await service.set_enabled(session, spec_id=spec_id, enabled=enabled, runtime=runtime, audit=audit)

        await self.act(request, "enable" if enabled else "disable", str(pk), change)

    @row_action(name="enable", text="Enable", confirmation="Serve this endpoint again?", icon_class="fa fa-play")
    async def enable(self, request: Request, pk: Any) -> str:
        await self._set_enabled(request, pk, enabled=True)
        return "The endpoint is served again."

    @row_action(
        name="disable",
        text="Disable",
        confirmation="Stop serving this endpoint? It is kept (with its documents) and answers 404 until enabled.",
        icon_class="fa fa-pause",
    )
    async def disable(self, request: Request, pk: Any) -> str:
        await self._set_enabled(request, pk, enabled=False)
        return "The endpoint is no longer served."


section = ConsoleSection(views=(EndpointSpecsView,))
