"""Sign-in through OpenID Connect providers and GitHub: the flow, and the identities it links to users.

A sign-in (or a link) starts with a row holding its `state` (as a digest), nonce, PKCE verifier and landing path,
and a cookie that binds that state to the browser. The callback checks the state against the cookie, lets the
provider exchange the code and vouch for the account (providers.py), deletes the row (single use: whatever the
outcome), and finds or makes the account: an identity is (provider, subject), never an e-mail address. A sign-in
ends with a one-time code in the frontend's URL, which the frontend exchanges once, within a minute, for the tokens
of a session started as a password login starts one, after the second factor when the account has one
(users.service.after_first_factor).
"""

import asyncio
import hmac
import re
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import utcnow
from app.core.exceptions import ConflictError, NotFoundError, found
from app.core.opaque_tokens import OpaqueTokenFormat, SecretHasher
from app.core.security_events import SecurityEvent, record_security_event
from app.features.oidc import repository
from app.features.oidc.errors import InvalidExchangeCodeError, LastSignInMethodError, SignInError, SignInFailedError
from app.features.oidc.models import OidcFlow, OidcLoginCode, UserIdentity
from app.features.oidc.providers import AccountClaims, Provider, ProviderDirectory
from app.features.oidc.schemas import IdentityRead
from app.features.sessions import service as sessions_service
from app.features.users import service as users_service
from app.features.users.models import User

__all__ = [
    "CODE_LIFETIME",
    "FLOW_LIFETIME",
    "Callback",
    "Finished",
    "Started",
    "begin",
    "cookie_value",
    "exchange",
    "finish",
    "landing_path",
    "list_identities",
    "state_of_cookie",
    "unlink",
    "unlink_unproven",
]

FLOW_LIFETIME = timedelta(minutes=10)
CODE_LIFETIME = timedelta(seconds=60)
STATES = OpaqueTokenFormat("fgs_")
CODES = OpaqueTokenFormat("fgc_")
# A path under the frontend: "/" first and never "//" or "/\\" (which browsers read as another host), no query,
# fragment, space or control character. The frontend's URL is put before it, so it cannot name another origin.
_LANDING_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*")
_LANDING_PATH_LENGTH = 512


def landing_path(value: str | None) -> str:
    """`redirect_to`, checked: a path under FORGE_FRONTEND_URL (no open redirect); "/" when not given."""
    if not value:
        return "/"
    if len(value) > _LANDING_PATH_LENGTH or not _LANDING_PATH.fullmatch(value):
        raise SignInFailedError(SignInError.INVALID_REDIRECT, "redirect_to is not a path under the frontend")
    return value


@dataclass(frozen=True, slots=True)
class Started:
    authorization_url: str
    state: str


@dataclass(frozen=True, slots=True)
class Callback:
    """What the provider sent the browser back with, and the browser's flow cookie."""

    state: str | None
    cookie_state: str | None
    code: str | None
    error: str | None
    callback_url: str


@dataclass(frozen=True, slots=True)
class Finished:
    """Where the browser lands: a path under the frontend, with the one-time `code` (or `linked`)."""

    redirect_to: str
    params: dict[str, str] = field(default_factory=dict)


def cookie_value(hasher: SecretHasher, state: str) -> str:
    """The flow cookie: the state with a keyed tag, so that only a cookie we set is taken."""
    return f"{state}.{hasher.sign(f'oidc-flow:{state}')}"


def state_of_cookie(hasher: SecretHasher, cookie: str | None) -> str | None:
    state, _, tag = (cookie or "").partition(".")
    if not STATES.is_well_formed(state) or not hmac.compare_digest(tag, hasher.sign(f"oidc-flow:{state}")):
        return None
    return state


async def _bounded[T](providers: ProviderDirectory, step: Coroutine[Any, Any, T]) -> T:
    """The provider's part of a step, all its requests together, within FORGE_OIDC_TIMEOUT_SECONDS."""
    try:
        async with asyncio.timeout(providers.timeout):
            return await step
    except TimeoutError as exc:
        raise SignInFailedError(SignInError.PROVIDER_UNAVAILABLE, "the provider did not answer in time") from exc


async def begin(
    session: AsyncSession,
    *,
    provider: Provider,
    providers: ProviderDirectory,
    hasher: SecretHasher,
    redirect_to: str,
    callback_url: str,
    link_user_id: int | None = None,
) -> Started:
    """Start a sign-in (or, with `link_user_id`, a link): the provider's authorization URL, and the state that the
    browser's cookie must carry back. `session` writes only after the provider's discovery, if any, answered."""
    state, nonce, verifier = STATES.generate(), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    url = await _bounded(
        providers,
        provider.authorization_url(redirect_uri=callback_url, state=state, nonce=nonce, code_verifier=verifier),
    )
    now = utcnow()
    await repository.purge_expired(session, now=now)
    await repository.add(
        session,
        OidcFlow(
            state_hash=hasher.digest(state),
            provider=provider.name,
            nonce=nonce,
            code_verifier=verifier,
            redirect_to=redirect_to,
            link_user_id=link_user_id,
            expires_at=now + FLOW_LIFETIME,
        ),
    )
    return Started(authorization_url=url, state=state)


async def finish(
    reads: AsyncSession,
    writes: AsyncSession,
    *,
    provider_name: str,
    callback: Callback,
    providers: ProviderDirectory,
    hasher: SecretHasher,
) -> Finished:
    """The callback: the browser's state checked, the provider's word taken, the flow used up, the account found,
    made or linked. `SignInFailedError` names the code the frontend receives; its `redirect_to` is the flow's.

    The flow is read with `reads` and everything else is written with `writes`, after the provider answered: one
    transaction, which on SQLite takes the write lock only then, not for the provider's round trip."""
    state = callback.state or ""
    if callback.cookie_state is None or not hmac.compare_digest(state.encode(), callback.cookie_state.encode()):
        raise SignInFailedError(SignInError.INVALID_STATE, "the state is not this browser's")
    flow = await repository.find_flow(reads, state_hash=hasher.digest(state), now=utcnow())
    if flow is None or flow.provider != provider_name:
        raise SignInFailedError(SignInError.INVALID_STATE, "no such sign-in in progress (expired or used)")
    try:
        claims = await _account(flow, callback, providers)
        if not await repository.take(writes, flow):
            raise SignInFailedError(SignInError.INVALID_STATE, "the sign-in was completed by another request")
        if flow.link_user_id is not None:
            return await _link(writes, flow=flow, claims=claims)
        return await _sign_in(writes, flow=flow, claims=claims, hasher=hasher)
    except SignInFailedError as failure:
        await repository.take(writes, flow)  # single use, also when it failed
        failure.redirect_to = flow.redirect_to
        raise


async def _account(flow: OidcFlow, callback: Callback, providers: ProviderDirectory) -> AccountClaims:
    if callback.error is not None:
        code = SignInError.ACCESS_DENIED if callback.error == "access_denied" else SignInError.PROVIDER_ERROR
        raise SignInFailedError(code, f"the provider answered {callback.error[:64]!r}")
    if not callback.code:
        raise SignInFailedError(SignInError.PROVIDER_ERROR, "the provider sent no code")
    provider = providers.get(flow.provider)
    step = provider.account(
        code=callback.code, redirect_uri=callback.callback_url, code_verifier=flow.code_verifier, nonce=flow.nonce
    )
    return await _bounded(providers, step)


async def _user_for(
    session: AsyncSession, flow: OidcFlow, claims: AccountClaims
) -> tuple[User | None, UserIdentity | None]:
    """The account this sign-in is for (None: a new one) and its identity when it is linked already. Writes nothing:
    an existing account with the address is linked only if both the provider and we know the address verified."""
    identity = await repository.find_identity(session, provider=flow.provider, subject=claims.subject)
    if identity is not None:
        return await users_service.get_user(session, user_id=identity.user_id), identity
    if claims.email is None:
        raise SignInFailedError(SignInError.EMAIL_REQUIRED, "the provider gave no e-mail address")
    existing = await users_service.find_user_by_email(session, email=claims.email)
    if existing is not None and not (claims.email_verified and existing.email_verified):
        detail = (
            f"user {existing.id} has the address; verified by the provider: {claims.email_verified}, "
            f"here: {existing.email_verified}"
        )
        raise SignInFailedError(SignInError.ACCOUNT_EXISTS, detail)
    return existing, None


async def _sign_in(session: AsyncSession, *, flow: OidcFlow, claims: AccountClaims, hasher: SecretHasher) -> Finished:
    user, identity = await _user_for(session, flow, claims)
    if user is None:
        user = await _new_account(session, claims=claims)
    if not user.is_active:
        raise SignInFailedError(SignInError.ACCOUNT_DISABLED, f"user {user.id} is deactivated")
    now = utcnow()
    if identity is None:
        identity = await _add_identity(session, user_id=user.id, provider=flow.provider, claims=claims)
    identity.email, identity.last_used_at = claims.email, now
    code = CODES.generate()
    await repository.add(
        session,
        OidcLoginCode(
            code_hash=hasher.digest(code), user_id=user.id, provider=flow.provider, expires_at=now + CODE_LIFETIME
        ),
    )
    return Finished(redirect_to=flow.redirect_to, params={"code": code})


async def _new_account(session: AsyncSession, *, claims: AccountClaims) -> User:
    assert claims.email is not None  # noqa: S101 - _user_for raised EMAIL_REQUIRED otherwise
    try:
        async with session.begin_nested():  # a concurrent registration of the address must not break the flow's write
            return await users_service.register_external_user(
                session, email=claims.email, full_name=claims.name, email_verified=claims.email_verified
            )
    except ConflictError as exc:
        raise SignInFailedError(SignInError.ACCOUNT_EXISTS, "the address was registered meanwhile") from exc


async def _add_identity(session: AsyncSession, *, user_id: int, provider: str, claims: AccountClaims) -> UserIdentity:
    try:
        async with session.begin_nested():
            identity = await repository.add(
                session, UserIdentity(user_id=user_id, provider=provider, subject=claims.subject, email=claims.email)
            )
    except ConflictError as exc:
        raise SignInFailedError(SignInError.IDENTITY_IN_USE, "the identity was linked meanwhile") from exc
    record_security_event(SecurityEvent.IDENTITY_LINKED, user_id=user_id, provider=provider, identity_id=identity.id)
    return identity


async def _link(session: AsyncSession, *, flow: OidcFlow, claims: AccountClaims) -> Finished:
    assert flow.link_user_id is not None  # noqa: S101 - a link's flow
    try:
        user = await users_service.get_user(session, user_id=flow.link_user_id)
    except NotFoundError as exc:
        raise SignInFailedError(SignInError.NOT_SIGNED_IN, "the linking user is gone") from exc
    if not user.is_active:
        raise SignInFailedError(SignInError.ACCOUNT_DISABLED, f"user {user.id} is deactivated")
    identity = await repository.find_identity(session, provider=flow.provider, subject=claims.subject)
    if identity is not None and identity.user_id != user.id:
        raise SignInFailedError(SignInError.IDENTITY_IN_USE, f"the identity is user {identity.user_id}'s")
    if identity is None:
        identity = await _add_identity(session, user_id=user.id, provider=flow.provider, claims=claims)
    identity.email, identity.last_used_at = claims.email, utcnow()
    return Finished(redirect_to=flow.redirect_to, params={"linked": flow.provider})


async def exchange(
    session: AsyncSession,
    *,
    code: str,
    hasher: SecretHasher,
    client: sessions_service.Client,
    issuer: sessions_service.SessionIssuer,
) -> users_service.LoginOutcome:
    """The tokens of a finished sign-in, for its one-time code (once, within CODE_LIFETIME): a session started
    as a password login starts one, so that it rotates and is revoked the same way; for an account with two-factor
    authentication on, the MFA challenge that `POST /auth/mfa` completes, as after a password."""
    row = None
    if CODES.is_well_formed(code):
        row = await repository.find_code(session, code_hash=hasher.digest(code), now=utcnow())
    if row is None or not await repository.take(session, row):
        raise InvalidExchangeCodeError("The sign-in code is invalid, expired or used.")
    user = await users_service.get_user(session, user_id=row.user_id)
    if not user.is_active:
        record_security_event(SecurityEvent.LOGIN_FAILED, user_id=user.id, reason="deactivated", provider=row.provider)
        raise InvalidExchangeCodeError("The sign-in code is invalid, expired or used.")
    return await users_service.after_first_factor(session, user=user, client=client, issuer=issuer)


async def list_identities(session: AsyncSession, *, user_id: int) -> list[IdentityRead]:
    return [IdentityRead.model_validate(row) for row in await repository.identities_of(session, user_id=user_id)]


async def unlink(session: AsyncSession, *, user: User, identity_id: int) -> None:
    """Remove one of the user's identities, unless the account would be left with no way to sign in (no password
    and no other identity)."""
    identity = found(
        await repository.identity_of_user(session, user_id=user.id, identity_id=identity_id), "No such identity."
    )
    if user.hashed_password is None and await repository.count_identities(session, user_id=user.id) <= 1:
        msg = "This is the account's only way to sign in: set a password (password reset) or link another first."
        raise LastSignInMethodError(msg)
    await repository.delete_identity(session, identity)
    record_security_event(
        SecurityEvent.IDENTITY_UNLINKED, user_id=user.id, provider=identity.provider, identity_id=identity.id
    )


async def unlink_unproven(session: AsyncSession, *, user_id: int) -> int:
    """Unlink every identity of an account whose address nobody had proven, when its owner proves it (a password
    reset's link reached the mailbox). Such an identity may be anyone's: a provider that does not verify addresses
    lets a stranger sign in as `victim@example.com`, which makes the account; the mailbox's owner who then takes the
    account over by a reset must not share it with the stranger. Its pending one-time codes go too."""
    identities = await repository.identities_of(session, user_id=user_id)
    for identity in identities:
        await repository.delete_identity(session, identity)
        record_security_event(
            SecurityEvent.IDENTITY_UNLINKED,
            user_id=user_id,
            provider=identity.provider,
            identity_id=identity.id,
            reason="address_proven_by_reset",
        )
    await repository.delete_login_codes(session, user_id=user_id)
    return len(identities)
