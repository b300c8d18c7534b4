"""Readiness: whether the service's dependencies answer right now."""

import asyncio

import structlog
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core import tracing
from app.core.exceptions import ServiceUnavailableError

__all__ = ["CHECK_TIMEOUT_SECONDS", "Readiness", "check_readiness"]

CHECK_TIMEOUT_SECONDS = 2.0
_log = structlog.get_logger("app.health")

OK = "ok"
UNAVAILABLE = "unavailable"

type Readiness = tuple[bool, dict[str, str]]


async def _database_answers(engine: AsyncEngine) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not ready"; the reason is logged by the pool
        return False
    return True


async def _redis_answers(redis: Redis) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await redis.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "unavailable"
        _log.warning("redis_unavailable", reason=f"{type(exc).__name__}: {exc}")
        return False
    return True


async def check_readiness(*, engine: AsyncEngine, redis: Redis | None, redis_required: bool) -> Readiness:
    """(degraded, every check's state). Raises `ServiceUnavailableError` naming the failing required checks.

    Redis is required only when the service cannot work without it (the rate limiter failing closed); otherwise
    its loss degrades the service (limits fail open) but does not take the instance out of rotation.
    """
    with tracing.untraced():  # probes have no request span: their queries would be stray root spans
        checks = {"database": OK if await _database_answers(engine) else UNAVAILABLE}
        if redis is not None:
            checks["redis"] = OK if await _redis_answers(redis) else UNAVAILABLE
    required = {"database"}
    if redis is not None and redis_required:
        required.add("redis")
    failing = sorted(name for name in required if checks[name] != OK)
    if failing:
        msg = f"Not ready: {', '.join(failing)} failing."
        raise ServiceUnavailableError(msg, retry_after_seconds=5, checks=checks)
    return any(state != OK for state in checks.values()), checks
