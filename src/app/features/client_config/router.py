"""`GET /api/v1/config`: the public client configuration, cached at the edge."""

from fastapi import APIRouter

from app.core.context import Context
from app.features.client_config.schemas import ClientConfig
from app.shared.caching import edge_cached
from app.shared.routing import ForgeRoute

__all__ = ["router"]

router = APIRouter(prefix="/config", tags=["config"], route_class=ForgeRoute)


@router.get("")
@edge_cached(namespace="config")  # made of the settings alone: nothing invalidates it while the app runs
async def get_client_config(context: Context) -> ClientConfig:
    """Public settings for clients (name, version, limits, feature flags); the same for every caller."""
    return context.component(ClientConfig)  # built at start (`service.client_config`)
