"""SQL for users; nothing else in the codebase builds statements against `user_account`."""

from collections.abc import Sequence

import structlog
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import best_effort_write
from app.core.exceptions import ConflictError
from app.features.users.models import User, UserID

__all__ = ["add", "count", "get", "get_active", "get_by_email", "list_page", "update_password_hash"]

_log = structlog.get_logger("app.users")


async def get(session: AsyncSession, user_id: UserID) -> User | None:
    return await session.get(User, user_id)


async def get_active(session: AsyncSession, user_id: UserID, *, also: ColumnElement[bool]) -> User | None:
    """The active user with this id, if `also` holds too: one statement (authentication's, on every request)."""
    statement = select(User).where(User.id == user_id, User.is_active.is_(True), also)
    return (await session.execute(statement)).scalar_one_or_none()


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == email))
    return result.scalar_one_or_none()


async def add(session: AsyncSession, user: User) -> User:
    """Insert a user; a concurrent insert of the same e-mail surfaces as `ConflictError`, not a 500."""
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        msg = "An account with this e-mail address already exists."
        raise ConflictError(msg) from exc
    return user


async def update_password_hash(session: AsyncSession, user: User, new_hash: str) -> None:
    """Store an upgraded hash, best effort, in a savepoint: on SQLite a read-mostly transaction may be unable to
    take the write lock; the upgrade is then simply retried at the next login."""
    try:
        async with best_effort_write(session):
            user.hashed_password = new_hash
    except OperationalError:
        _log.info("password_rehash_deferred", user_id=user.id)


async def list_page(
    session: AsyncSession, *, offset: int, limit: int, phone_index: bytes | None = None
) -> Sequence[User]:
    statement = select(User).order_by(User.id).offset(offset).limit(limit)
    if phone_index is not None:
        statement = statement.where(User.phone_index == phone_index)
    return (await session.execute(statement)).scalars().all()


async def count(session: AsyncSession, *, phone_index: bytes | None = None) -> int:
    statement = select(func.count()).select_from(User)
    if phone_index is not None:
        statement = statement.where(User.phone_index == phone_index)
    return (await session.execute(statement)).scalar_one()
