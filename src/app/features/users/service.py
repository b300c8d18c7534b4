"""Users and authentication: registration, login (the credentials, a second factor when the user has one on, then a
session), token refresh, logout, password changes, and the admin's user management. Sessions and their tokens are
the sessions feature's; second factors the mfa feature's; password resets and e-mail verification are
`password_reset` and `email_verification` beside this module."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.audit import Audit, snapshot
from app.core.dashboard import DailyCounts
from app.core.database import utcnow
from app.core.encryption import blind_index
from app.core.exceptions import (
    AuthenticationError,
    ConflictError,
    FieldError,
    InvalidInputError,
    PermissionDeniedError,
    found,
)
from app.core.pagination import Page, PageParams
from app.core.security import PasswordHasher
from app.core.security_events import SecurityEvent, record_security_event
from app.features.mfa import service as mfa_service
from app.features.sessions import service as sessions_service
from app.features.users import repository
from app.features.users.models import TokenPurpose, User, UserID, UserRole
from app.features.users.schemas import PasswordChange, UserAdminUpdate, UserCreate, UserRead, UserSelfUpdate

__all__ = [
    "EmailNotVerifiedError",
    "LoginOutcome",
    "SessionPolicy",
    "admin_revoke_sessions",
    "after_first_factor",
    "authenticate_user",
    "change_password",
    "check_credentials",
    "complete_login",
    "count_users",
    "daily_series",
    "find_user_by_email",
    "get_user",
    "get_user_by_email",
    "list_users",
    "login",
    "logout",
    "purge_expired_tokens",
    "refresh_tokens",
    "register_external_user",
    "register_user",
    "require_verified_email",
    "revoke_sessions",
    "set_password",
    "start_session",
    "update_me",
    "update_user",
]

# The sessions' lifetimes, which revoking a user's sessions takes: named here for this feature's other modules.
SessionPolicy = sessions_service.SessionPolicy

_ADMIN_FIELDS = ("role", "is_active")  # what an administrator changes (update_user), as audited
_BAD_CREDENTIALS = "Incorrect e-mail or password."
_BAD_TOKEN = "The token is invalid or has expired."  # noqa: S105 - a message, not a secret
_BAD_MFA_TOKEN = "The MFA token is invalid or has expired: log in again."  # noqa: S105 - a message, not a secret


class EmailNotVerifiedError(PermissionDeniedError):
    """FORGE_REQUIRE_VERIFIED_EMAIL is on and the caller has not verified their address yet."""

    slug = "email-not-verified"
    title = "E-mail Address Not Verified"


async def register_user(
    session: AsyncSession,
    *,
    data: UserCreate,
    hasher: PasswordHasher,
    role: UserRole = UserRole.USER,
    verified: bool = False,
) -> User:
    """Create an account; the role comes from the caller's code (registration or CLI), never from the client, and so
    does `verified` (an administrator's account, made by an operator, is; a self-registered one is not).

    The password is hashed before the database is touched: the slow part then holds no lock (on SQLite a
    write request holds the write lock from its first statement), and a taken e-mail costs the same time.
    """
    hashed = await hasher.hash(data.password.get_secret_value())
    if await repository.get_by_email(session, data.email) is not None:
        msg = "An account with this e-mail address already exists."
        raise ConflictError(msg)
    user = User(
        email=data.email,
        hashed_password=hashed,
        full_name=data.full_name,
        role=role,
        is_active=True,
        email_verified=verified,
    )
    return await repository.add(session, user)


def require_verified_email(user: User, *, settings: Settings) -> None:
    """With FORGE_REQUIRE_VERIFIED_EMAIL on, `EmailNotVerifiedError` (403) for a user whose address is unverified."""
    if settings.require_verified_email and not user.email_verified:
        msg = (
            "This operation needs a verified e-mail address: follow the link mailed to you, or ask for another with "
            "POST /api/v1/auth/verify-email/resend."
        )
        raise EmailNotVerifiedError(msg)


async def register_external_user(
    session: AsyncSession, *, email: str, full_name: str | None, email_verified: bool
) -> User:
    """An account made by a first sign-in through a provider: no password (a password reset sets one), the address
    verified if the provider said so. A taken address is `ConflictError`."""
    user = User(
        email=email.strip().lower(),
        hashed_password=None,
        full_name=full_name[:200] if full_name else None,
        role=UserRole.USER,
        is_active=True,
        email_verified=email_verified,
    )
    return await repository.add(session, user)


async def check_credentials(session: AsyncSession, *, email: str, password: str, hasher: PasswordHasher) -> User:
    """The active account with this e-mail address and password: the first step of a login. An unknown e-mail, a
    wrong password and a deactivated account are the same 401 (the log line says which)."""
    user = await repository.get_by_email(session, email.strip().lower())
    valid, new_hash = await hasher.verify(password, user.hashed_password if user else None)
    if user is None or not valid or not user.is_active:
        reason = "unknown_account" if user is None else "wrong_password" if not valid else "deactivated"
        record_security_event(SecurityEvent.LOGIN_FAILED, user_id=user.id if user else None, reason=reason)
        raise AuthenticationError(_BAD_CREDENTIALS)
    if new_hash is not None:  # stored with outdated Argon2 parameters: upgrade it while we hold the password
        await repository.update_password_hash(session, user, new_hash)
    return user


# What a checked first factor earns: the session, or (two-factor authentication on) the challenge of the second.
type LoginOutcome = sessions_service.IssuedTokens | mfa_service.Challenge


async def start_session(
    session: AsyncSession,
    *,
    user: User,
    client: sessions_service.Client,
    issuer: sessions_service.SessionIssuer,
) -> sessions_service.IssuedTokens:
    """The last step of a login: a session for a user whose every factor was checked, and its first tokens."""
    issued = await sessions_service.start(session, user_id=user.id, client=client, issuer=issuer)
    record_security_event(SecurityEvent.LOGIN_SUCCEEDED, user_id=user.id, session_id=issued.session_id)
    return issued


async def login(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    hasher: PasswordHasher,
    client: sessions_service.Client,
    issuer: sessions_service.SessionIssuer,
) -> LoginOutcome:
    """Exchange credentials for a session's tokens; with two-factor authentication on, for an MFA token instead,
    which `complete_login` exchanges, with a code, for the session."""
    user = await check_credentials(session, email=email, password=password, hasher=hasher)
    return await after_first_factor(session, user=user, client=client, issuer=issuer)


async def after_first_factor(
    session: AsyncSession,
    *,
    user: User,
    client: sessions_service.Client,
    issuer: sessions_service.SessionIssuer,
) -> LoginOutcome:
    """A login whose first factor was checked (a password, or a provider's word for the account): the second
    factor's challenge when the account has one, else its session. A provider stands in for the password only."""
    challenge = await mfa_service.challenge(session, user_id=user.id, tokens=issuer.tokens)
    if challenge is not None:
        return challenge
    return await start_session(session, user=user, client=client, issuer=issuer)


async def complete_login(
    session: AsyncSession,
    *,
    user_id: UserID,
    code: str,
    now: datetime,
    client: sessions_service.Client,
    issuer: sessions_service.SessionIssuer,
) -> sessions_service.IssuedTokens:
    """The second step of a login with two-factor authentication, for the user of a verified MFA token: a code
    (authenticator or recovery, each accepted once), then the session, as a login without a second factor."""
    user = await repository.get(session, user_id)
    if user is None or not user.is_active:  # deactivated since the password was checked
        record_security_event(SecurityEvent.LOGIN_FAILED, user_id=user_id, reason="deactivated")
        raise AuthenticationError(_BAD_MFA_TOKEN)
    await mfa_service.verify_login(session, user_id=user.id, code=code, hasher=issuer.hasher, now=now)
    return await start_session(session, user=user, client=client, issuer=issuer)


async def authenticate_user(
    session: AsyncSession, *, user_id: int | None, session_id: int | None, settings: Settings
) -> User:
    """The active user of a verified access token, if the session the token names is live: checked in the one
    statement that loads the user (`user_id` None: the token did not verify)."""
    user = None
    if user_id is not None and session_id is not None:
        policy = sessions_service.SessionPolicy.of(settings)
        live = sessions_service.live_session(session_id=session_id, user_id=user_id, policy=policy)
        user = await repository.get_active(session, user_id, also=live)
    if user is None:
        raise AuthenticationError(_BAD_TOKEN)
    return user


async def refresh_tokens(
    session: AsyncSession,
    *,
    presented: sessions_service.PresentedRefreshToken | None,
    issuer: sessions_service.SessionIssuer,
) -> sessions_service.IssuedTokens:
    """A new token pair for a live refresh token of an active user (the old one is spent by it)."""
    if presented is None:
        msg = "This operation needs a refresh token: in the body, or (with cookies on) in its cookie."
        raise AuthenticationError(msg)
    issued = await sessions_service.rotate(session, presented=presented, issuer=issuer)
    user = await repository.get(session, issued.user_id)
    if user is None or not user.is_active:  # deactivation revokes sessions; this holds should one be missed
        raise AuthenticationError("The refresh token is invalid, expired or revoked.")
    return issued


async def logout(
    session: AsyncSession,
    *,
    signed_in: tuple[User, int] | None,
    presented: sessions_service.PresentedRefreshToken | None,
    issuer: sessions_service.SessionIssuer,
) -> None:
    """End the session of the caller's access token (`signed_in`: its user and session) or else of the refresh
    token presented; a 401 with neither."""
    if signed_in is not None:
        user, session_id = signed_in
        await sessions_service.end(session, user_id=user.id, session_id=session_id, policy=issuer.policy)
    elif presented is not None:
        await sessions_service.end_by_refresh_token(session, presented=presented, issuer=issuer)
    else:
        msg = "Logging out needs the session's access token (Authorization: Bearer) or its refresh token cookie."
        raise AuthenticationError(msg)


async def change_password(
    session: AsyncSession,
    *,
    user: User,
    session_id: int,
    data: PasswordChange,
    hasher: PasswordHasher,
    policy: sessions_service.SessionPolicy,
) -> None:
    """Set a new password, given the current one; every other session of the user is revoked, this one kept."""
    current = data.current_password.get_secret_value()
    new = data.new_password.get_secret_value()
    valid, _ = await hasher.verify(current, user.hashed_password)
    if not valid:
        record_security_event(SecurityEvent.PASSWORD_CHANGE_REFUSED, user_id=user.id, session_id=session_id)
        error = FieldError("#/current_password", "is not the account's password", "wrong_password")
        raise InvalidInputError("The current password is not right.", errors=[error])
    if new == current:
        error = FieldError("#/new_password", "must differ from the current password", "unchanged")
        raise InvalidInputError("The new password is the current one.", errors=[error])
    await set_password(session, user=user, hashed=await hasher.hash(new))
    revoked = await revoke_sessions(session, user_id=user.id, policy=policy, reason="password_changed", keep=session_id)
    record_security_event(
        SecurityEvent.PASSWORD_CHANGED, user_id=user.id, session_id=session_id, sessions_revoked=revoked
    )


async def set_password(session: AsyncSession, *, user: User, hashed: str) -> None:
    """Store a new password's hash: the user's password reset links stop working (a reset is for a password that
    is still the one forgotten)."""
    user.hashed_password = hashed
    await session.flush()
    await repository.delete_tokens(session, user_id=user.id, purpose=TokenPurpose.PASSWORD_RESET)


async def purge_expired_tokens(session: AsyncSession) -> int:
    """Delete the reset and verification tokens that expired unused; how many."""
    return await repository.purge_expired_tokens(session, now=utcnow())


async def revoke_sessions(
    session: AsyncSession,
    *,
    user_id: UserID,
    policy: sessions_service.SessionPolicy,
    reason: str,
    keep: int | None = None,
) -> int:
    """Sign a user out everywhere (but in session `keep`, when given): every live session revoked, with its refresh
    and access tokens; how many. For a password change or reset, an administrator, a deactivation. 404 for an
    unknown user."""
    await get_user(session, user_id=user_id)
    return await sessions_service.revoke_all(session, user_id=user_id, policy=policy, reason=reason, keep=keep)


async def get_user(session: AsyncSession, *, user_id: UserID) -> User:
    return found(await repository.get(session, user_id), f"User {user_id} does not exist.")


async def find_user_by_email(session: AsyncSession, *, email: str) -> User | None:
    return await repository.get_by_email(session, email.strip().lower())


async def get_user_by_email(session: AsyncSession, *, email: str) -> User:
    user = await repository.get_by_email(session, email.strip().lower())
    return found(user, f"No user has the e-mail address {email}.")


async def list_users(
    session: AsyncSession, *, params: PageParams, phone: str | None = None, email_contains: str | None = None
) -> Page[UserRead]:
    """A page of users; with `phone` (normalised), only those with that number, found by its blind index; with
    `email_contains`, only those whose address contains it (case-insensitively)."""
    index = blind_index(phone) if phone is not None else None
    rows = await repository.list_page(session, params=params, phone_index=index, email_contains=email_contains)
    total = await count_users(session, phone=phone, email_contains=email_contains) if params.include_total else None
    users, next_cursor = repository.BY_ID.split(rows, params)
    items = [UserRead.model_validate(u) for u in users]
    return Page[UserRead].build(items, total=total, params=params, next_cursor=next_cursor)


async def count_users(session: AsyncSession, *, phone: str | None = None, email_contains: str | None = None) -> int:
    """How many users `list_users` with the same filters finds."""
    index = blind_index(phone) if phone is not None else None
    return await repository.count(session, phone_index=index, email_contains=email_contains)


async def update_me(session: AsyncSession, *, user: User, changes: UserSelfUpdate) -> User:
    """Change one's own name or phone (stored encrypted, with its blind index for lookups)."""
    if "full_name" in changes.model_fields_set:
        user.full_name = changes.full_name
    if "phone" in changes.model_fields_set:
        user.phone = changes.phone
        user.phone_index = blind_index(changes.phone) if changes.phone is not None else None
    await session.flush()
    return user


async def update_user(
    session: AsyncSession,
    *,
    user_id: UserID,
    changes: UserAdminUpdate,
    policy: sessions_service.SessionPolicy,
    audit: Audit,
) -> User:
    """An administrator's change of a user's role or active flag, recorded with `audit` (whose actor is the
    administrator). Admins cannot demote or deactivate themselves (no lock-out). A deactivated user's sessions are
    revoked: reactivating the account does not bring them back."""
    user = await get_user(session, user_id=user_id)
    if user.id == audit.actor.user_id and (changes.role not in (None, UserRole.ADMIN) or changes.is_active is False):
        msg = "Admins cannot demote or deactivate their own account."
        raise ConflictError(msg)
    before = snapshot(user, _ADMIN_FIELDS)
    if changes.role is not None:
        user.role = changes.role
    if changes.is_active is False and user.is_active:
        await sessions_service.revoke_all(session, user_id=user.id, policy=policy, reason="deactivated")
    if changes.is_active is not None:
        user.is_active = changes.is_active
    await session.flush()
    after = snapshot(user, _ADMIN_FIELDS)
    await audit.record(session, action="user.update", target_type="user", target_id=user.id, before=before, after=after)
    return user


async def admin_revoke_sessions(
    session: AsyncSession, *, user_id: UserID, policy: sessions_service.SessionPolicy, audit: Audit
) -> int:
    """An administrator signs a user out everywhere (`revoke_sessions`), recorded with `audit`; how many."""
    revoked = await revoke_sessions(session, user_id=user_id, policy=policy, reason="admin")
    await audit.record(
        session, action="user.revoke_sessions", target_type="user", target_id=user_id, after={"revoked": revoked}
    )
    return revoked


async def daily_series(session: AsyncSession, *, since: datetime) -> list[DailyCounts]:
    """The admins' dashboard's series (a core.dashboard `DailySource`): `registrations`, accounts made per UTC day."""
    return [DailyCounts("registrations", dict(await repository.daily_registrations(session, since=since)))]
