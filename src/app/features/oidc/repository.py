"""SQL for identities, sign-ins on their way and one-time codes. Single use is a DELETE that one caller wins: of two
concurrent callers, only one sees its row deleted (rowcount 1) on SQLite and on PostgreSQL alike."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.exceptions import ConflictError
from app.features.oidc.models import OidcFlow, OidcLoginCode, UserIdentity

__all__ = [
    "add",
    "count_identities",
    "delete_identity",
    "delete_login_codes",
    "find_code",
    "find_flow",
    "find_identity",
    "identities_of",
    "identity_of_user",
    "purge_expired",
    "take",
]


async def add[Row: (OidcFlow, OidcLoginCode, UserIdentity)](session: AsyncSession, row: Row) -> Row:
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:  # an identity linked meanwhile by a concurrent sign-in
        msg = "This identity is linked already."
        raise ConflictError(msg) from exc
    return row


async def purge_expired(session: AsyncSession, *, now: datetime) -> None:
    await session.execute(delete(OidcFlow).where(OidcFlow.expires_at < now))
    await session.execute(delete(OidcLoginCode).where(OidcLoginCode.expires_at < now))


async def find_flow(session: AsyncSession, *, state_hash: bytes, now: datetime) -> OidcFlow | None:
    statement = select(OidcFlow).where(OidcFlow.state_hash == state_hash, OidcFlow.expires_at > now)
    return (await session.execute(statement)).scalar_one_or_none()


async def find_code(session: AsyncSession, *, code_hash: bytes, now: datetime) -> OidcLoginCode | None:
    statement = select(OidcLoginCode).where(OidcLoginCode.code_hash == code_hash, OidcLoginCode.expires_at > now)
    return (await session.execute(statement)).scalar_one_or_none()


async def take(session: AsyncSession, row: OidcFlow | OidcLoginCode) -> bool:
    """Delete a single-use row; whether this caller is the one that deleted it."""
    model = type(row)
    result: CursorResult[tuple[()]] = await session.execute(  # type: ignore[assignment]
        delete(model).where(model.id == row.id).execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def find_identity(session: AsyncSession, *, provider: str, subject: str) -> UserIdentity | None:
    statement = select(UserIdentity).where(UserIdentity.provider == provider, UserIdentity.subject == subject)
    return (await session.execute(statement)).scalar_one_or_none()


async def identities_of(session: AsyncSession, *, user_id: int) -> Sequence[UserIdentity]:
    statement = select(UserIdentity).where(UserIdentity.user_id == user_id).order_by(UserIdentity.id)
    return (await session.execute(statement)).scalars().all()


async def identity_of_user(session: AsyncSession, *, user_id: int, identity_id: int) -> UserIdentity | None:
    statement = select(UserIdentity).where(UserIdentity.id == identity_id, UserIdentity.user_id == user_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def count_identities(session: AsyncSession, *, user_id: int) -> int:
    statement = select(func.count()).select_from(UserIdentity).where(UserIdentity.user_id == user_id)
    return (await session.execute(statement)).scalar_one()


async def delete_identity(session: AsyncSession, identity: UserIdentity) -> None:
    await session.delete(identity)
    await session.flush()


async def delete_login_codes(session: AsyncSession, *, user_id: int) -> None:
    await session.execute(delete(OidcLoginCode).where(OidcLoginCode.user_id == user_id))
