"""Sessions: one per login, named by its short-lived access tokens and kept alive by an opaque refresh token that
rotates at every use.

A refresh token (`fgr_...`, the API keys' format: app.core.opaque_tokens) is stored only as its digest. Rotating it
makes the presented token *spent*; presenting a spent token again is reuse, the sign that two parties hold it, and
revokes the whole session: its newest refresh token and every access token naming it stop working. One exception,
the grace: the token whose rotation issued the current one, presented again within `session_refresh_grace_seconds`
of that rotation (a client retrying after a lost answer), gets a new pair and supersedes the pair it got first, so
that the session still has one line of tokens (whoever holds the superseded token and comes back with it is reuse).

Revocation is a timestamp on the session; since access tokens are checked against their session in the statement
that loads their user (`live_session`), a revoked session's access tokens are refused at their next request.
"""

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.database import utcnow
from app.core.exceptions import AuthenticationError, PermissionDeniedError, found
from app.core.opaque_tokens import OpaqueTokenFormat, SecretHasher
from app.core.pagination import Page, PageParams
from app.core.security import TokenService
from app.core.security_events import SecurityEvent, record_security_event
from app.features.sessions import repository
from app.features.sessions.models import SessionID, UserSession
from app.features.sessions.schemas import SessionRead

__all__ = [
    "REFRESH_TOKENS",
    "Client",
    "CsrfTokenError",
    "IssuedTokens",
    "Lifetimes",
    "PresentedRefreshToken",
    "RefreshTokenReusedError",
    "SessionID",
    "SessionIssuer",
    "SessionPolicy",
    "csrf_token",
    "end",
    "end_by_refresh_token",
    "find_session",
    "list_sessions",
    "live_session",
    "mark_used",
    "needs_marking",
    "purge_ended",
    "resume",
    "revoke",
    "revoke_all",
    "rotate",
    "start",
]

REFRESH_TOKENS = OpaqueTokenFormat("fgr_")
USER_AGENT_LENGTH = 200
# Ended sessions stay this long (for an operator's questions) before they are deleted: by a login of their user, or
# by the daily `sessions.purge` job (sessions/jobs.py).
ENDED_SESSIONS_KEPT = timedelta(days=7)
_BAD_REFRESH_TOKEN = "The refresh token is invalid, expired or revoked."  # noqa: S105 - a message, not a secret


class RefreshTokenReusedError(AuthenticationError):
    """A spent refresh token came back: refused, and its session revoked (that write is kept: `keeps_writes`)."""

    keeps_writes = True


class CsrfTokenError(PermissionDeniedError):
    """A refresh token came in its cookie without the session's CSRF token in `X-CSRF-Token`."""

    slug = "csrf-token-invalid"
    title = "CSRF Token Missing or Invalid"


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """The lifetimes of sessions (FORGE_SESSION_*)."""

    idle: timedelta
    maximum: timedelta
    grace: timedelta

    @classmethod
    def of(cls, settings: Settings) -> "SessionPolicy":
        return cls(
            idle=timedelta(days=settings.session_idle_days),
            maximum=timedelta(days=settings.session_max_days),
            grace=timedelta(seconds=settings.session_refresh_grace_seconds),
        )

    def cutoffs(self, now: datetime) -> repository.Cutoffs:
        return repository.Cutoffs(idle=now - self.idle, absolute=now - self.maximum)

    def ends_at(self, row: UserSession) -> datetime:
        return min(row.last_used_at + self.idle, row.created_at + self.maximum)


@dataclass(frozen=True, slots=True)
class SessionIssuer:
    """What issuing a session's tokens takes: the JWT service, the pepper's hasher and the lifetimes."""

    tokens: TokenService
    hasher: SecretHasher
    policy: SessionPolicy


@dataclass(frozen=True, slots=True)
class Client:
    """What a session records of the client that logged in: its User-Agent and its network (not its address)."""

    user_agent: str | None
    network: str | None


@dataclass(frozen=True, slots=True)
class PresentedRefreshToken:
    """A refresh token as a request presented it. From a cookie (`needs_csrf`), the request must also carry the
    session's CSRF token: a cookie is sent by the browser whoever made the request."""

    token: str
    needs_csrf: bool = False
    csrf_token: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    user_id: int
    session_id: SessionID
    access_token: str
    expires_in: int
    refresh_token: str
    csrf_token: str
    session_ends_at: datetime  # the session's absolute end, which no refresh extends


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """Shorter lifetimes than the policy's that a kind of client holds its sessions to (the admin console's)."""

    idle: timedelta
    maximum: timedelta
    # A session's last use is recorded at most this often: a write per page would be a write per request.
    mark_every: timedelta = timedelta(minutes=1)


def csrf_token(hasher: SecretHasher, session_id: SessionID) -> str:
    """The session's CSRF token: a keyed tag of its id, the same for its whole life, known only to its holder."""
    return hasher.sign(f"csrf-token:{session_id}")


def live_session(*, session_id: SessionID, user_id: int, policy: SessionPolicy) -> ColumnElement[bool]:
    """A condition for the statement that loads an access token's user: its session is this user's and live."""
    return repository.live(session_id=session_id, user_id=user_id, cutoffs=policy.cutoffs(utcnow()))


def _issue(issuer: SessionIssuer, row: UserSession, refresh_token: str) -> IssuedTokens:
    access = issuer.tokens.issue_access(user_id=row.user_id, session_id=row.id)
    return IssuedTokens(
        user_id=row.user_id,
        session_id=row.id,
        access_token=access.token,
        expires_in=access.expires_in,
        refresh_token=refresh_token,
        csrf_token=csrf_token(issuer.hasher, row.id),
        session_ends_at=row.created_at + issuer.policy.maximum,
    )


async def start(session: AsyncSession, *, user_id: int, client: Client, issuer: SessionIssuer) -> IssuedTokens:
    """A new session for a user whose credentials were checked, and its first tokens. The user's sessions that
    ended over ENDED_SESSIONS_KEPT ago are deleted on the way."""
    now = utcnow()
    await _purge_ended(session, policy=issuer.policy, now=now, user_id=user_id)
    refresh_token = REFRESH_TOKENS.generate()
    # Printable characters only: a control character is no part of a client's name, and PostgreSQL refuses NUL.
    user_agent = "".join(c for c in client.user_agent or "" if c.isprintable())[:USER_AGENT_LENGTH] or None
    row = await repository.add(
        session,
        UserSession(
            user_id=user_id,
            refresh_token_hash=issuer.hasher.digest(refresh_token),
            created_at=now,
            last_used_at=now,
            user_agent=user_agent,
            client_network=client.network,
        ),
    )
    return _issue(issuer, row, refresh_token)


async def _purge_ended(session: AsyncSession, *, policy: SessionPolicy, now: datetime, user_id: int | None) -> int:
    cutoffs = policy.cutoffs(now)
    kept = repository.Cutoffs(idle=cutoffs.idle - ENDED_SESSIONS_KEPT, absolute=cutoffs.absolute - ENDED_SESSIONS_KEPT)
    return await repository.purge_ended(session, before=kept, revoked_before=now - ENDED_SESSIONS_KEPT, user_id=user_id)


async def purge_ended(session: AsyncSession, *, policy: SessionPolicy) -> int:
    """Delete every session that ended over ENDED_SESSIONS_KEPT ago (revoked, idle or too old), with its spent
    refresh tokens; how many. A user who never logs in again would otherwise keep theirs for ever."""
    return await _purge_ended(session, policy=policy, now=utcnow(), user_id=None)


def _check_csrf(presented: PresentedRefreshToken, hasher: SecretHasher, session_id: SessionID) -> None:
    if presented.needs_csrf and not hmac.compare_digest(
        (presented.csrf_token or "").encode(), csrf_token(hasher, session_id).encode()
    ):
        msg = "A refresh token sent as a cookie needs the session's CSRF token in the X-CSRF-Token header."
        raise CsrfTokenError(msg)


async def _replace(
    session: AsyncSession,
    issuer: SessionIssuer,
    row: UserSession,
    *,
    current_hash: bytes,
    rotated_from_hash: bytes,
    now: datetime,
) -> IssuedTokens | None:
    """Spend the session's refresh token `current_hash` and issue its successor, rotated from `rotated_from_hash`;
    None when another request replaced `current_hash` first (one conditional UPDATE decides)."""
    successor = REFRESH_TOKENS.generate()
    replaced = await repository.replace_refresh_token(
        session,
        session_id=row.id,
        current_hash=current_hash,
        new_hash=issuer.hasher.digest(successor),
        rotated_from_hash=rotated_from_hash,
        now=now,
    )
    if not replaced:
        return None
    await repository.spend(session, session_id=row.id, token_hash=current_hash, now=now)
    return _issue(issuer, row, successor)


async def rotate(session: AsyncSession, *, presented: PresentedRefreshToken, issuer: SessionIssuer) -> IssuedTokens:
    """A new pair for the session of a live refresh token, which is spent by it. A spent token is reuse and
    revokes the session (`RefreshTokenReusedError`), unless it is a retry within the grace."""
    if not REFRESH_TOKENS.is_well_formed(presented.token):  # an old JWT, junk: refused before the database is asked
        raise AuthenticationError(_BAD_REFRESH_TOKEN)
    digest = issuer.hasher.digest(presented.token)
    now = utcnow()
    cutoffs = issuer.policy.cutoffs(now)
    current = await repository.by_refresh_hash(session, digest)
    if current is not None:
        if not cutoffs.admit(current):
            raise AuthenticationError(_BAD_REFRESH_TOKEN)
        _check_csrf(presented, issuer.hasher, current.id)
        issued = await _replace(session, issuer, current, current_hash=digest, rotated_from_hash=digest, now=now)
        if issued is not None:
            return issued
        # Another request rotated this token since it was read: it is spent now, and judged as such.
    return await _present_spent(session, digest=digest, presented=presented, issuer=issuer, now=now)


async def _present_spent(
    session: AsyncSession, *, digest: bytes, presented: PresentedRefreshToken, issuer: SessionIssuer, now: datetime
) -> IssuedTokens:
    spent = await repository.spent_with_session(session, digest)
    if spent is None:
        raise AuthenticationError(_BAD_REFRESH_TOKEN)
    token, row = spent
    cutoffs = issuer.policy.cutoffs(now)
    if not cutoffs.admit(row):  # revoked or expired already: nothing more to do
        raise AuthenticationError(_BAD_REFRESH_TOKEN)
    _check_csrf(presented, issuer.hasher, row.id)
    if row.rotated_from_hash == digest and token.spent_at > now - issuer.policy.grace:
        # The retry supersedes the pair its token's rotation issued first.
        current_hash = row.refresh_token_hash
        issued = await _replace(session, issuer, row, current_hash=current_hash, rotated_from_hash=digest, now=now)
        if issued is None:  # a third request of the same retry won: this one loses
            raise AuthenticationError(_BAD_REFRESH_TOKEN)
        return issued
    await repository.revoke(session, user_id=row.user_id, now=now, cutoffs=cutoffs, only=row.id)
    record_security_event(SecurityEvent.REFRESH_TOKEN_REUSED, user_id=row.user_id, session_id=row.id)
    msg = "The refresh token was used before: its session is revoked. Log in again."
    raise RefreshTokenReusedError(msg)


async def resume(
    session: AsyncSession, *, token: str, hasher: SecretHasher, policy: SessionPolicy, lifetimes: Lifetimes
) -> UserSession | None:
    """The live session whose current refresh token this is, if it is also within `lifetimes`; None otherwise.

    For a client that holds its session's refresh token server-side in an HttpOnly cookie and never rotates it (the
    admin console): the token names the session, as the API's access tokens do, with no JWT to expire."""
    if not REFRESH_TOKENS.is_well_formed(token):
        return None
    row = await repository.by_refresh_hash(session, hasher.digest(token))
    now = utcnow()
    if row is None or not policy.cutoffs(now).admit(row):
        return None
    if row.last_used_at <= now - lifetimes.idle or row.created_at <= now - lifetimes.maximum:
        return None
    return row


def needs_marking(row: UserSession, lifetimes: Lifetimes) -> bool:
    """Whether `resume`'s session should have its use recorded now (`mark_used`): not on every page."""
    return row.last_used_at <= utcnow() - lifetimes.mark_every


async def mark_used(session: AsyncSession, *, session_id: SessionID) -> None:
    """Record a use of the session now: it stays live for another idle period."""
    await repository.mark_used(session, session_id=session_id, now=utcnow())


async def end(session: AsyncSession, *, user_id: int, session_id: SessionID, policy: SessionPolicy) -> None:
    """Log out: revoke the session of the caller's access token."""
    now = utcnow()
    await repository.revoke(session, user_id=user_id, now=now, cutoffs=policy.cutoffs(now), only=session_id)
    record_security_event(SecurityEvent.LOGGED_OUT, user_id=user_id, session_id=session_id)


async def end_by_refresh_token(
    session: AsyncSession, *, presented: PresentedRefreshToken, issuer: SessionIssuer
) -> None:
    """Log out with the session's current refresh token (a browser's cookie, whose access token may be gone)."""
    row = None
    if REFRESH_TOKENS.is_well_formed(presented.token):
        row = await repository.by_refresh_hash(session, issuer.hasher.digest(presented.token))
    if row is None or not issuer.policy.cutoffs(utcnow()).admit(row):
        raise AuthenticationError(_BAD_REFRESH_TOKEN)
    _check_csrf(presented, issuer.hasher, row.id)
    await end(session, user_id=row.user_id, session_id=row.id, policy=issuer.policy)


async def revoke(
    session: AsyncSession, *, user_id: int, session_id: SessionID, policy: SessionPolicy, reason: str = "user"
) -> None:
    """Revoke one of the user's sessions (another user's is 404). Revoking an ended session changes nothing.
    `reason` is logged (`user`, or `admin` from the console)."""
    found(await repository.get_for_user(session, user_id=user_id, session_id=session_id), "No such session.")
    now = utcnow()
    if await repository.revoke(session, user_id=user_id, now=now, cutoffs=policy.cutoffs(now), only=session_id):
        record_security_event(
            SecurityEvent.SESSIONS_REVOKED, user_id=user_id, session_id=session_id, count=1, reason=reason
        )


async def revoke_all(
    session: AsyncSession, *, user_id: int, policy: SessionPolicy, reason: str, keep: SessionID | None = None
) -> int:
    """Revoke every live session of the user, but `keep` when given (a password change keeps the session that made
    it); how many were revoked. Their refresh tokens and access tokens stop working at once. `reason` is logged
    (`user`, `admin`, `deactivated`, `password_changed`, `password_reset`...)."""
    now = utcnow()
    count = await repository.revoke(session, user_id=user_id, now=now, cutoffs=policy.cutoffs(now), keep=keep)
    record_security_event(SecurityEvent.SESSIONS_REVOKED, user_id=user_id, count=count, reason=reason, kept=keep)
    return count


def _read(row: UserSession, *, current: SessionID, policy: SessionPolicy) -> SessionRead:
    return SessionRead(
        id=row.id,
        current=row.id == current,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=policy.ends_at(row),
        user_agent=row.user_agent,
        client_network=row.client_network,
    )


async def find_session(
    session: AsyncSession, *, user_id: int, session_id: SessionID, current: SessionID, policy: SessionPolicy
) -> SessionRead | None:
    """One of the user's live sessions, or None (another user's, an ended one, none)."""
    row = await repository.get_for_user(session, user_id=user_id, session_id=session_id)
    return (
        _read(row, current=current, policy=policy) if row is not None and policy.cutoffs(utcnow()).admit(row) else None
    )


async def list_sessions(
    session: AsyncSession, *, user_id: int, current: SessionID, policy: SessionPolicy, params: PageParams
) -> Page[SessionRead]:
    """A page of the user's live sessions, the most recently used first; `current` is marked."""
    cutoffs = policy.cutoffs(utcnow())
    found = await repository.list_live(session, user_id=user_id, cutoffs=cutoffs, params=params)
    total = await repository.count_live(session, user_id=user_id, cutoffs=cutoffs) if params.include_total else None
    rows, next_cursor = repository.MOST_RECENTLY_USED_FIRST.split(found, params)
    items = [_read(row, current=current, policy=policy) for row in rows]
    return Page[SessionRead].build(items, total=total, params=params, next_cursor=next_cursor)
