"""Readiness: whether the service's dependencies answer right now."""

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.exceptions import ServiceUnavailableError

__all__ = ["CHECK_TIMEOUT_SECONDS", "check_readiness"]

CHECK_TIMEOUT_SECONDS = 2.0


async def _database_answers(engine: AsyncEngine) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not ready"; the reason is logged by the pool
        return False
    return True


async def check_readiness(*, engine: AsyncEngine) -> dict[str, str]:
    """Every check's state; raises `ServiceUnavailableError` naming the failing checks."""
    checks = {"database": "ok" if await _database_answers(engine) else "unavailable"}
    failing = sorted(name for name, state in checks.items() if state != "ok")
    if failing:
        msg = f"Not ready: {', '.join(failing)} failing."
        raise ServiceUnavailableError(msg, retry_after_seconds=5, checks=checks)
    return checks
