from typing import Annotated

from fastapi import APIRouter, Query

from app.core.database import DBSession
from app.core.pagination import Page, Pagination
from app.features.auth.dependencies import AdminUser
from app.features.events import service
from app.features.events.schemas import EventRead
from app.shared.routing import ForgeRoute

__all__ = ["router"]

router = APIRouter(prefix="/admin/events", tags=["events"], route_class=ForgeRoute)


@router.get("")
async def list_events(
    session: DBSession,
    _admin: AdminUser,
    pagination: Pagination,
    event_type: Annotated[
        str | None,
        Query(alias="type", min_length=1, max_length=100, description="Only the events of this type (`order.placed`)."),
    ] = None,
) -> Page[EventRead]:
    """Recorded domain events, newest first; kept FORGE_EVENTS_RETENTION_DAYS."""
    return await service.list_events(session, params=pagination, event_type=event_type)
