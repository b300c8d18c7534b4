"""Probes for orchestrators, outside /api/v1: liveness (`/healthz`) and readiness (`/readyz`)."""

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from app.core.database import DatabaseDep
from app.features.health import service
from app.shared.routing import ForgeRoute

__all__ = ["router"]

router = APIRouter(tags=["health"], route_class=ForgeRoute)


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    checks: dict[str, str]


@router.get("/healthz")
async def healthz() -> Liveness:
    """The process is up and its event loop answers."""
    return Liveness()


@router.get("/readyz", responses={503: {"description": "A dependency is failing; the body names it."}})
async def readyz(database: DatabaseDep) -> Readiness:
    """The database answers within two seconds."""
    return Readiness(checks=await service.check_readiness(engine=database.engine))
