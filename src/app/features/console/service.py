"""Signing in to the admin console: administrators only, with their ForgeAPI account (the password, then a
two-factor code when they have it on), into a session of their own that the console holds to shorter lifetimes, and
that ends as soon as its user is no longer an active administrator.

A console sign-in is a session like an API login's (the sessions feature's): listed with the user's others, revoked
with them (a deactivation, a password change, an administrator's revocation), and purged with them. Its refresh
token is the console's cookie, which the console never rotates; the console's lifetimes are checked on every page.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.exceptions import AuthenticationError, NotFoundError, PermissionDeniedError
from app.core.opaque_tokens import SecretHasher
from app.core.security import PasswordHasher
from app.core.security_events import SecurityEvent, record_security_event
from app.features.mfa import service as mfa_service
from app.features.sessions import service as sessions_service
from app.features.users import service as users_service
from app.features.users.models import User, UserRole

__all__ = [
    "CodeRequiredError",
    "NotAnAdministratorError",
    "SessionPolicy",
    "SignedIn",
    "check_administrator",
    "finish_sign_in",
    "lifetimes_of",
    "mark_used",
    "resume",
    "sign_out",
]


# The sessions' lifetimes, which resuming and ending a console session take.
SessionPolicy = sessions_service.SessionPolicy


class NotAnAdministratorError(PermissionDeniedError):
    """The password was right, but the account is not an administrator's: the console is for administrators."""

    slug = "not-an-administrator"
    title = "Not an Administrator"


class CodeRequiredError(AuthenticationError):
    """The account has two-factor authentication on, and no code was given."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live console session and its administrator."""

    user_id: int
    email: str
    session_id: int
    needs_marking: bool  # its last use should be recorded (`mark_used`): not done by every page


def lifetimes_of(settings: Settings) -> sessions_service.Lifetimes:
    return sessions_service.Lifetimes(
        idle=timedelta(minutes=settings.admin_session_idle_minutes),
        maximum=timedelta(hours=settings.admin_session_max_hours),
    )


async def check_administrator(
    session: AsyncSession, *, email: str, password: str, hasher: PasswordHasher
) -> tuple[User, bool]:
    """The first step: the account's password (the API login's check: one answer for an unknown address, a wrong
    password and a deactivated account), then its role. Returns the user and whether a second factor is needed."""
    user = await users_service.check_credentials(session, email=email, password=password, hasher=hasher)
    if user.role is not UserRole.ADMIN:
        record_security_event(SecurityEvent.LOGIN_FAILED, user_id=user.id, reason="console_not_admin")
        msg = "The console is for administrators: this account is not one."
        raise NotAnAdministratorError(msg)
    return user, (await mfa_service.state(session, user_id=user.id)).enabled


async def finish_sign_in(
    session: AsyncSession,
    *,
    user: User,
    code: str | None,
    needs_code: bool,
    now: datetime,
    client: sessions_service.Client,
    issuer: sessions_service.SessionIssuer,
) -> sessions_service.IssuedTokens:
    """The second step: the code (each accepted once, as at POST /auth/mfa) when the account has two-factor
    authentication on, then the session, whose refresh token the console keeps in its cookie."""
    if needs_code:
        if not code:
            msg = "This account has two-factor authentication on: give a code from the authenticator app."
            raise CodeRequiredError(msg)
        await mfa_service.verify_login(session, user_id=user.id, code=code, hasher=issuer.hasher, now=now)
    return await users_service.start_session(session, user=user, client=client, issuer=issuer)


async def resume(
    session: AsyncSession,
    *,
    token: str,
    hasher: SecretHasher,
    policy: sessions_service.SessionPolicy,
    lifetimes: sessions_service.Lifetimes,
) -> SignedIn | None:
    """The console session of a cookie's token, if it is live and its user is still an active administrator. A
    session whose user was demoted is ended here (a deactivation has revoked it already)."""
    row = await sessions_service.resume(session, token=token, hasher=hasher, policy=policy, lifetimes=lifetimes)
    if row is None:
        return None
    try:
        user: User | None = await users_service.get_user(session, user_id=row.user_id)
    except NotFoundError:
        user = None
    if user is None or not user.is_active or user.role is not UserRole.ADMIN:
        await sessions_service.end(session, user_id=row.user_id, session_id=row.id, policy=policy)
        return None
    return SignedIn(
        user_id=user.id,
        email=user.email,
        session_id=row.id,
        needs_marking=sessions_service.needs_marking(row, lifetimes),
    )


async def mark_used(session: AsyncSession, *, signed_in: SignedIn) -> None:
    """Record a page of the console session: it stays live for another idle period."""
    await sessions_service.mark_used(session, session_id=signed_in.session_id)


async def sign_out(session: AsyncSession, *, signed_in: SignedIn, policy: sessions_service.SessionPolicy) -> None:
    """End the console session (revoked, as an API logout revokes its session)."""
    await sessions_service.end(session, user_id=signed_in.user_id, session_id=signed_in.session_id, policy=policy)
