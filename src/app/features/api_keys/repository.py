"""SQL for API keys."""

from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import best_effort_write
from app.features.api_keys.models import ApiKey, ApiKeyID

__all__ = ["add", "get_by_hash", "get_for_user", "list_for_user", "touch"]

_log = structlog.get_logger("app.api_keys")


async def add(session: AsyncSession, api_key: ApiKey) -> ApiKey:
    session.add(api_key)
    await session.flush()
    return api_key


async def get_by_hash(session: AsyncSession, key_hash: bytes) -> ApiKey | None:
    return (await session.execute(select(ApiKey).where(ApiKey.key_hash == key_hash))).scalar_one_or_none()


async def get_for_user(session: AsyncSession, *, user_id: int, key_id: ApiKeyID) -> ApiKey | None:
    statement = select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def list_for_user(session: AsyncSession, *, user_id: int) -> Sequence[ApiKey]:
    statement = select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id)
    return (await session.execute(statement)).scalars().all()


async def touch(session: AsyncSession, *, key_id: ApiKeyID, now: datetime, every: timedelta) -> None:
    """Record a use, at most once per `every`: one conditional UPDATE, usually matching no row.

    Best effort, in a savepoint: on SQLite a read-only request's transaction may be unable to take the write
    lock (another writer committed since it began); losing one "last used" mark must not fail the request.
    """
    statement = (
        update(ApiKey)
        .where(ApiKey.id == key_id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - every))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    try:
        async with best_effort_write(session):
            await session.execute(statement)
    except OperationalError:
        _log.info("api_key_last_used_not_recorded", api_key_id=key_id)
