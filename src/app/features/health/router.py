"""Probes for orchestrators, outside /api/v1: liveness (`/healthz`) and readiness (`/readyz`)."""

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.core.database import DatabaseDep
from app.features.health import service
from app.shared.routing import ForgeRoute

__all__ = ["router"]

router = APIRouter(tags=["health"], route_class=ForgeRoute)


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "degraded"]
    checks: dict[str, str]


@router.get("/healthz")
async def healthz() -> Liveness:
    """The process is up and its event loop answers."""
    return Liveness()


@router.get("/readyz", responses={503: {"description": "A required dependency is failing; the body names it."}})
async def readyz(request: Request, database: DatabaseDep) -> Readiness:
    """The database (and Redis, when the rate limiter fails closed) answer within two seconds.

    `degraded`: an optional dependency is down (Redis with a fail-open limiter); the instance still serves.
    """
    settings = request.app.state.settings
    degraded, checks = await service.check_readiness(
        engine=database.engine,
        redis=request.app.state.redis,
        redis_required=settings.rate_limit_enabled and not settings.rate_limit_fail_open,
    )
    return Readiness(status="degraded" if degraded else "ready", checks=checks)
