from typing import Annotated

from fastapi import APIRouter, Query

from app.core.context import Context
from app.core.dashboard import DashboardSources
from app.core.database import DBSession
from app.features.auth.dependencies import AdminUser
from app.features.dashboard import service
from app.features.dashboard.schemas import Dashboard
from app.shared.routing import ForgeRoute

__all__ = ["router"]

router = APIRouter(prefix="/admin/dashboard", tags=["dashboard"], route_class=ForgeRoute)


@router.get("")
async def get_dashboard(
    session: DBSession,
    _admin: AdminUser,
    context: Context,
    days: Annotated[int, Query(ge=1, le=service.MAX_DAYS, description="How many UTC days, today included.")] = 30,
) -> Dashboard:
    """Activity per day (what the features contribute: registrations, orders, revenue...), the job queue by state
    and its dead jobs, the webhooks' failure rate over the last 24 hours, and the service's requests and errors."""
    sources = context.component(DashboardSources)
    return await service.dashboard(session, days=days, sources=sources, metrics=context.metrics)
