from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from app.core.context import context_of
from app.core.database import DBSession
from app.core.identifiers import ResourceID
from app.core.pagination import Page, Pagination
from app.features.auth.dependencies import AdminAudit, AdminUser
from app.features.dynamic_endpoints import service
from app.features.dynamic_endpoints.models import EndpointSpec
from app.features.dynamic_endpoints.schemas import EndpointSpecRead, EndpointSpecWrite
from app.features.dynamic_endpoints.state import EndpointRuntime
from app.shared.routing import ForgeRoute

__all__ = ["get_runtime", "router"]

router = APIRouter(prefix="/admin/endpoints", tags=["dynamic endpoints"], route_class=ForgeRoute)


async def get_runtime(request: Request) -> EndpointRuntime:
    return context_of(request).component(EndpointRuntime)


Runtime = Annotated[EndpointRuntime, Depends(get_runtime)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EndpointSpecRead)
async def create_endpoint(
    data: EndpointSpecWrite, session: DBSession, audit: AdminAudit, runtime: Runtime
) -> EndpointSpec:
    return await service.create_spec(session, data=data, runtime=runtime, audit=audit)


@router.get("")
async def list_endpoints(session: DBSession, _admin: AdminUser, pagination: Pagination) -> Page[EndpointSpecRead]:
    return await service.list_specs(session, params=pagination)


@router.get("/{spec_id}", response_model=EndpointSpecRead)
async def get_endpoint(spec_id: ResourceID, session: DBSession, _admin: AdminUser) -> EndpointSpec:
    return await service.get_spec(session, spec_id=spec_id)


@router.put("/{spec_id}", response_model=EndpointSpecRead)
async def replace_endpoint(
    spec_id: ResourceID, data: EndpointSpecWrite, session: DBSession, audit: AdminAudit, runtime: Runtime
) -> EndpointSpec:
    return await service.replace_spec(session, spec_id=spec_id, data=data, runtime=runtime, audit=audit)


@router.delete("/{spec_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_endpoint(spec_id: ResourceID, session: DBSession, audit: AdminAudit, runtime: Runtime) -> None:
    await service.delete_spec(session, spec_id=spec_id, runtime=runtime, audit=audit)
