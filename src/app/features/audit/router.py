from typing import Annotated

from fastapi import APIRouter, Depends

from app.core.database import DBSession
from app.core.pagination import Page, Pagination
from app.core.query_models import QueryModel
from app.features.audit import service
from app.features.audit.schemas import AuditEntryRead, AuditFilters
from app.features.auth.dependencies import AdminUser
from app.shared.routing import ForgeRoute

__all__ = ["router"]

Filters = Annotated[AuditFilters, Depends(QueryModel(AuditFilters))]

router = APIRouter(prefix="/admin/audit", tags=["audit"], route_class=ForgeRoute)


@router.get("")
async def list_audit_entries(
    session: DBSession, _admin: AdminUser, filters: Filters, pagination: Pagination
) -> Page[AuditEntryRead]:
    """The audit trail of admin actions, newest first: who, what, to what, when, and the fields changed (secrets
    and encrypted values masked). Append-only: entries are never changed or deleted."""
    return await service.list_entries(session, params=pagination, filters=filters)
