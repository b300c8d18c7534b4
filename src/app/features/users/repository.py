"""SQL for users; nothing else in the codebase builds statements against `user_account`."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import structlog
from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.dashboard import utc_day
from app.core.database import best_effort_write
from app.core.exceptions import ConflictError
from app.core.pagination import Keyset, PageParams
from app.features.users.models import AccountToken, TokenPurpose, User, UserID

__all__ = [
    "TakenToken",
    "add",
    "add_token",
    "count",
    "daily_registrations",
    "delete_tokens",
    "flush_email",
    "get",
    "get_active",
    "get_by_email",
    "list_page",
    "purge_expired_tokens",
    "take_token",
    "update_password_hash",
]

_EMAIL_TAKEN = "An account with this e-mail address already exists."

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
        raise ConflictError(_EMAIL_TAKEN) from exc
    return user


async def flush_email(session: AsyncSession) -> None:
    """Write a user's changed address; another account that took it meanwhile is `ConflictError`, not a 500."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(_EMAIL_TAKEN) from exc


async def update_password_hash(session: AsyncSession, user: User, new_hash: str) -> None:
    """Store an upgraded hash, best effort, in a savepoint: on SQLite a read-mostly transaction may be unable to
    take the write lock; the upgrade is then simply retried at the next login."""
    try:
        async with best_effort_write(session):
            user.hashed_password = new_hash
    except OperationalError:
        _log.info("password_rehash_deferred", user_id=user.id)


# The admins' listing's order (the primary key's index; with a phone, the few users its blind index finds).
BY_ID = Keyset(User.id)


def _matching(phone_index: bytes | None, email_contains: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if phone_index is not None:
        conditions.append(User.phone_index == phone_index)
    if email_contains:  # addresses are stored lower-cased
        conditions.append(User.email.contains(email_contains.strip().lower(), autoescape=True))
    return conditions


async def list_page(
    session: AsyncSession,
    *,
    params: PageParams,
    phone_index: bytes | None = None,
    email_contains: str | None = None,
) -> Sequence[User]:
    statement = BY_ID.page(select(User).where(*_matching(phone_index, email_contains)), params)
    return (await session.execute(statement)).scalars().all()


async def count(session: AsyncSession, *, phone_index: bytes | None = None, email_contains: str | None = None) -> int:
    statement = select(func.count()).select_from(User).where(*_matching(phone_index, email_contains))
    return (await session.execute(statement)).scalar_one()


@dataclass(frozen=True, slots=True)
class TakenToken:
    """What a used token said: whose it was, and the address it was mailed to."""

    user_id: UserID
    email: str


async def add_token(session: AsyncSession, token: AccountToken) -> None:
    session.add(token)
    await session.flush()


async def take_token(
    session: AsyncSession, *, digest: bytes, purpose: TokenPurpose, now: datetime
) -> TakenToken | None:
    """Use a token: delete its row if it exists for `purpose` and has not expired, in one statement, so that of two
    requests presenting it only one gets it (None for the other, and for any token that is not live)."""
    statement = (
        delete(AccountToken)
        .where(AccountToken.token_hash == digest, AccountToken.purpose == purpose, AccountToken.expires_at > now)
        .returning(AccountToken.user_id, AccountToken.email)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else TakenToken(user_id=row.user_id, email=row.email)


async def delete_tokens(session: AsyncSession, *, user_id: UserID, purpose: TokenPurpose) -> None:
    """Void every token of the user for `purpose`."""
    statement = delete(AccountToken).where(AccountToken.user_id == user_id, AccountToken.purpose == purpose)
    await session.execute(statement.execution_options(synchronize_session=False))


async def purge_expired_tokens(session: AsyncSession, *, now: datetime) -> int:
    """Delete the tokens that expired unused (used and voided ones are deleted at once); how many."""
    statement = delete(AccountToken).where(AccountToken.expires_at <= now)
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0))


async def daily_registrations(session: AsyncSession, *, since: datetime) -> list[tuple[date, int]]:
    """Accounts created per UTC day from `since`."""
    day = utc_day(User.created_at)
    statement = select(day, func.count()).where(User.created_at >= since).group_by(day)
    return [(found_day, int(count)) for found_day, count in await session.execute(statement)]
