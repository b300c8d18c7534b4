"""Probes for orchestrators, outside /api/v1: liveness (`/healthz`) and readiness (`/readyz`)."""

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.context import Context
from app.core.database import DatabaseDep
from app.core.metrics import CONTENT_TYPE, authorise_scrape, state_readings
from app.features.health import service
from app.shared.routing import ForgeRoute

__all__ = ["LIVE", "router"]

router = APIRouter(tags=["health"], route_class=ForgeRoute)


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "degraded"]
    checks: dict[str, str]


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, context: Context) -> Response:
    """Prometheus text format; 404 when metrics are off or asked on another port than FORGE_METRICS_PORT (when set),
    401 without the token when one is configured."""
    collected, settings = context.metrics, context.settings
    # `server` is the listening socket's own address (not the Host header), so a client cannot choose it.
    server = request.scope.get("server")
    elsewhere = settings.metrics_port is not None and (server is None or server[1] != settings.metrics_port)
    if collected is None or elsewhere:
        raise StarletteHTTPException(status_code=404)
    authorise_scrape(request.headers.get("authorization"), settings.metrics_token)
    store = context.response_cache.store if context.response_cache is not None else None
    readings = state_readings(pool=context.database.engine.pool, limiter=context.rate_limiter, cache=store)
    return Response(collected.render(readings), media_type=CONTENT_TYPE)


# The liveness answer never changes: sent as these bytes, FastAPI neither validates nor serialises a model per probe
# (-8 % of the probe's instructions; benchmarks/instructions.py).
LIVE = Liveness().model_dump_json().encode()


@router.get("/healthz", response_model=Liveness)
async def healthz() -> Response:
    """The process is up and its event loop answers."""
    return Response(LIVE, media_type="application/json")


@router.get("/readyz", responses={503: {"description": "A required dependency is failing; the body names it."}})
async def readyz(context: Context, database: DatabaseDep) -> Readiness:
    """The database (and Redis, when the rate limiter fails closed) answer within two seconds.

    `degraded`: an optional dependency is down (Redis with a fail-open limiter); the instance still serves.
    """
    settings = context.settings
    degraded, checks = await service.check_readiness(
        engine=database.engine,
        redis=context.redis,
        redis_required=settings.rate_limit_enabled and not settings.rate_limit_fail_open,
    )
    return Readiness(status="degraded" if degraded else "ready", checks=checks)
