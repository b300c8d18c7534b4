from typing import Any

from fastapi import APIRouter

from app.core.context import Context
from app.core.http import HttpClient
from app.features.aggregate import service
from app.features.aggregate.schemas import AggregateRead
from app.features.auth.dependencies import DetachedCurrentUser
from app.shared.routing import ForgeRoute

__all__ = ["router"]

router = APIRouter(prefix="/aggregate", tags=["aggregate"], route_class=ForgeRoute)

_ERRORS: dict[int | str, dict[str, Any]] = {
    502: {"description": "A source failed (non-2xx, unreachable, too large, not JSON); `sources` names it."},
    504: {"description": "Sources did not answer within FORGE_AGGREGATE_TIMEOUT; `sources` names them."},
}


@router.get("", responses=_ERRORS)
async def get_aggregate(context: Context, client: HttpClient, _user: DetachedCurrentUser) -> AggregateRead:
    """Every configured upstream source's JSON, fetched concurrently: all of them, or a 502/504 and none.

    The caller is authenticated before any upstream is called, and the database connection that took is released
    then: the fan-out holds none.
    """
    settings = context.settings
    sources = await service.aggregate(
        client=client,
        sources=settings.aggregate_sources,
        timeout_seconds=settings.aggregate_timeout,
        max_bytes=settings.aggregate_max_bytes,
    )
    return AggregateRead(sources=sources)
