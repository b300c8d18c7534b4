"""SQL for sessions and their refresh tokens; nothing else builds statements against `user_session`."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import Keyset, PageParams
from app.features.sessions.models import SessionID, SpentRefreshToken, UserSession

__all__ = [
    "Cutoffs",
    "add",
    "by_refresh_hash",
    "count_live",
    "get_for_user",
    "list_live",
    "live",
    "mark_used",
    "purge_ended",
    "replace_refresh_token",
    "revoke",
    "spend",
    "spent_with_session",
]


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """A session is live if it is not revoked, was used after `idle` and began after `absolute`."""

    idle: datetime
    absolute: datetime

    def admit(self, row: UserSession) -> bool:
        """The same test as `_is_live`, on a loaded row."""
        return row.revoked_at is None and row.last_used_at > self.idle and row.created_at > self.absolute


def _is_live(cutoffs: Cutoffs) -> ColumnElement[bool]:
    return and_(
        UserSession.revoked_at.is_(None),
        UserSession.last_used_at > cutoffs.idle,
        UserSession.created_at > cutoffs.absolute,
    )


def live(*, session_id: SessionID, user_id: int, cutoffs: Cutoffs) -> ColumnElement[bool]:
    """EXISTS (this live session of this user): a condition for the statement that loads the user, so that an
    access token's session is checked without a round trip of its own."""
    return (
        select(UserSession.id)
        .where(UserSession.id == session_id, UserSession.user_id == user_id, _is_live(cutoffs))
        .exists()
    )


async def add(session: AsyncSession, row: UserSession) -> UserSession:
    session.add(row)
    await session.flush()
    return row


async def by_refresh_hash(session: AsyncSession, digest: bytes) -> UserSession | None:
    """The session whose current refresh token has this digest."""
    statement = select(UserSession).where(UserSession.refresh_token_hash == digest)
    return (await session.execute(statement)).scalar_one_or_none()


async def spent_with_session(session: AsyncSession, digest: bytes) -> tuple[SpentRefreshToken, UserSession] | None:
    """A spent refresh token with this digest, and its session as it is now."""
    statement = (
        select(SpentRefreshToken, UserSession)
        .join(UserSession, UserSession.id == SpentRefreshToken.session_id)
        .where(SpentRefreshToken.token_hash == digest)
        .execution_options(populate_existing=True)  # the session row may have changed since it was last loaded
    )
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else (row[0], row[1])


async def replace_refresh_token(
    session: AsyncSession,
    *,
    session_id: SessionID,
    current_hash: bytes,
    new_hash: bytes,
    rotated_from_hash: bytes,
    now: datetime,
) -> bool:
    """Make `new_hash` the session's refresh token if `current_hash` still is: one conditional UPDATE, so that of
    two requests rotating one token only one succeeds (False for the other)."""
    statement = (
        update(UserSession)
        .where(
            UserSession.id == session_id,
            UserSession.refresh_token_hash == current_hash,
            UserSession.revoked_at.is_(None),
        )
        .values(refresh_token_hash=new_hash, rotated_from_hash=rotated_from_hash, last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(await session.execute(statement), "rowcount", 0)) > 0


async def spend(session: AsyncSession, *, session_id: SessionID, token_hash: bytes, now: datetime) -> None:
    session.add(SpentRefreshToken(session_id=session_id, token_hash=token_hash, spent_at=now))
    await session.flush()


async def mark_used(session: AsyncSession, *, session_id: SessionID, now: datetime) -> None:
    statement = (
        update(UserSession)
        .where(UserSession.id == session_id)
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(statement)


async def get_for_user(session: AsyncSession, *, user_id: int, session_id: SessionID) -> UserSession | None:
    statement = select(UserSession).where(UserSession.id == session_id, UserSession.user_id == user_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def revoke(
    session: AsyncSession,
    *,
    user_id: int,
    now: datetime,
    cutoffs: Cutoffs,
    only: SessionID | None = None,
    keep: SessionID | None = None,
) -> int:
    """Revoke the user's live sessions (just `only`, or all but `keep`); how many there were."""
    statement = update(UserSession).where(UserSession.user_id == user_id, _is_live(cutoffs))
    if only is not None:
        statement = statement.where(UserSession.id == only)
    if keep is not None:
        statement = statement.where(UserSession.id != keep)
    statement = statement.values(revoked_at=now).execution_options(synchronize_session=False)
    return int(getattr(await session.execute(statement), "rowcount", 0))


# The listing's order, served by the index on (user_id, last_used_at, id). A session used during a walk moves to
# the front, before the cursor: the walk then misses it (it is live, and the first page shows it).
MOST_RECENTLY_USED_FIRST = Keyset(UserSession.last_used_at, UserSession.id, descending=True)


async def list_live(
    session: AsyncSession, *, user_id: int, cutoffs: Cutoffs, params: PageParams
) -> Sequence[UserSession]:
    statement = select(UserSession).where(UserSession.user_id == user_id, _is_live(cutoffs))
    statement = MOST_RECENTLY_USED_FIRST.page(statement, params)
    return (await session.execute(statement)).scalars().all()


async def count_live(session: AsyncSession, *, user_id: int, cutoffs: Cutoffs) -> int:
    statement = select(func.count()).select_from(UserSession).where(UserSession.user_id == user_id, _is_live(cutoffs))
    return (await session.execute(statement)).scalar_one()


async def purge_ended(
    session: AsyncSession, *, before: Cutoffs, revoked_before: datetime, user_id: int | None = None
) -> int:
    """Delete the sessions (the user's, or everyone's) that ended before these times, and by cascade their spent
    tokens; how many."""
    statement = delete(UserSession).where(
        or_(
            UserSession.revoked_at < revoked_before,
            UserSession.last_used_at <= before.idle,
            UserSession.created_at <= before.absolute,
        ),
    )
    if user_id is not None:
        statement = statement.where(UserSession.user_id == user_id)
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0))
