"""The route side of who is calling: `CurrentUser`, `DetachedCurrentUser`, `AdminUser`, `VerifiedUser`, and
`Authorized(scope)` for routes that take a JWT user or an API key holding a scope; each resolves to an account in the
database. A bearer token's user is loaded only if the session the token names is live, in the same statement.
`VerifiedUser` and `Authorized(scope, verified_email=True)` also need a verified e-mail address when
FORGE_REQUIRE_VERIFIED_EMAIL is on (403 `email-not-verified`).
`CurrentSessionID` is that session; `BearerSession` the user and session of an optional bearer token.
`AdminAudit` is the administrator's `Audit`, with which the services record admin actions (core/audit.py).

The credentials themselves come from the request's `RequestCaller` (parsed once, verified once); the two security
schemes below read them from there too, and exist to document the schemes in the OpenAPI document.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from app.core.audit import Actor, Audit
from app.core.context import context_of
from app.core.database import DBSession, ReadMostlyDBSession
from app.core.exceptions import AuthenticationError, PermissionDeniedError
from app.features.api_keys.models import Scope
from app.features.auth import service
from app.features.auth.addresses import privacy_network
from app.features.auth.attempts import authentication_attempt
from app.features.auth.caller import request_caller
from app.features.users.models import User
from app.shared.routing import answers

__all__ = [
    "API_KEY_HEADER",
    "AdminAudit",
    "AdminUser",
    "Authorized",
    "BearerSession",
    "CurrentSessionID",
    "CurrentUser",
    "DetachedCurrentUser",
    "Grants",
    "Principal",
    "SignedIn",
    "VerifiedUser",
    "api_key_scheme",
    "authentication_attempt",
    "authorize",
    "bearer_scheme",
    "caller_grants",
    "client_network",
]

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret
_BAD_TOKEN = "The token is invalid or has expired."  # noqa: S105 - a message, not a secret
API_KEY_HEADER = "X-API-Key"


class _BearerScheme(OAuth2PasswordBearer):
    """The bearer token of the request's caller. auto_error off: a missing token is our own problem+json 401."""

    def __init__(self) -> None:
        super().__init__(tokenUrl=TOKEN_URL, auto_error=False, scheme_name="OAuth2PasswordBearer")

    async def __call__(self, request: HTTPConnection) -> str | None:
        return request_caller(request).bearer


class _ApiKeyScheme(APIKeyHeader):
    """The API key of the request's caller."""

    def __init__(self) -> None:
        super().__init__(
            name=API_KEY_HEADER,
            auto_error=False,
            scheme_name="APIKeyHeader",
            description="An API key (`fgk_...`) issued by POST /api/v1/api-keys.",
        )

    async def __call__(self, request: HTTPConnection) -> str | None:
        return request_caller(request).api_key


bearer_scheme = _BearerScheme()
api_key_scheme = _ApiKeyScheme()


async def _bearer_user(request: Request, session: AsyncSession) -> User:
    async with authentication_attempt(request):  # failed tokens are limited per client address
        access = request_caller(request).access()
        return await service.token_user(session, access=access, settings=context_of(request).settings)


@answers(401)
async def get_current_user(
    request: Request, session: DBSession, token: Annotated[str | None, Depends(bearer_scheme)]
) -> User:
    if not token:
        msg = "This operation needs a bearer token."
        raise AuthenticationError(msg)
    return await _bearer_user(request, session)


CurrentUser = Annotated[User, Depends(get_current_user)]


@answers(401)
async def get_detached_current_user(
    request: Request, session: ReadMostlyDBSession, token: Annotated[str | None, Depends(bearer_scheme)]
) -> User:
    """The caller, loaded in a session that is closed before the handler runs.

    For routes that do slow work without the database (the aggregation waits on upstreams for up to
    FORGE_AGGREGATE_TIMEOUT): the session's connection goes back to the pool at once instead of being held until
    the handler returns, so slow upstreams cannot drain the pool. The user is detached: its loaded columns stay
    readable, but it cannot lazy-load or be written through this session.
    """
    try:
        return await get_current_user(request, session, token)
    finally:
        await session.close()  # releases the connection; the dependency's later commit finds nothing to do


DetachedCurrentUser = Annotated[User, Depends(get_detached_current_user)]


@answers(401)
async def get_current_session_id(request: Request, _user: CurrentUser) -> int:
    """The session of the caller's access token, which `CurrentUser` found live."""
    session_id = request_caller(request).session_id()
    if session_id is None:  # CurrentUser refused such a token already
        raise AuthenticationError(_BAD_TOKEN)
    return session_id


CurrentSessionID = Annotated[int, Depends(get_current_session_id)]


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A bearer token's user and the (live) session it names."""

    user: User
    session_id: int


@answers(401)
async def get_bearer_session(
    request: Request, session: DBSession, token: Annotated[str | None, Depends(bearer_scheme)]
) -> SignedIn | None:
    """The user and session of the request's bearer token; None without one (401 for a bad one). For routes that
    take another credential when there is no bearer token (logout: a refresh token cookie)."""
    if not token:
        return None
    user = await _bearer_user(request, session)
    return SignedIn(user, await get_current_session_id(request, user))


BearerSession = Annotated[SignedIn | None, Depends(get_bearer_session)]


def client_network(request: Request) -> str | None:
    """The caller's network (IPv4 /24, IPv6 /48), behind trusted proxies: what records that outlive the request
    (a session's) keep of its address. None when the address is unknown."""
    return privacy_network(request_caller(request).address_key())


@answers(403)
async def require_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        msg = "This operation is for administrators."
        raise PermissionDeniedError(msg)
    return user


AdminUser = Annotated[User, Depends(require_admin)]


@answers(401, 403)
async def get_admin_audit(request: Request, admin: AdminUser) -> Audit:
    """The administrator's audit: what the services record this request's admin actions with."""
    return Audit(context_of(request).audit, Actor(user_id=admin.id))


AdminAudit = Annotated[Audit, Depends(get_admin_audit)]


@answers(401, 403)
async def require_verified_user(request: Request, user: CurrentUser) -> User:
    """The caller, if their e-mail address is verified or FORGE_REQUIRE_VERIFIED_EMAIL is off."""
    service.require_verified_email(user, settings=context_of(request).settings)
    return user


VerifiedUser = Annotated[User, Depends(require_verified_user)]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user, directly (JWT) or through one of its API keys."""

    user: User
    api_key_id: int | None = None

    @property
    def actor(self) -> Actor:
        """The caller as the audit trail names them."""
        return Actor(user_id=self.user.id, api_key_id=self.api_key_id)


@answers(401, 403)
class Authorized:
    """A JWT user (admins only when `admin`), or an API key carrying `scope` whose owner is active (and admin). With
    `verified_email`, the user (the key's owner) also needs a verified address when FORGE_REQUIRE_VERIFIED_EMAIL is
    on: the routes that act in the world in the user's name (placing an order) say so."""

    def __init__(self, scope: Scope, *, admin: bool = False, verified_email: bool = False) -> None:
        self.scope = scope
        self.admin = admin
        self.verified_email = verified_email

    async def __call__(  # keyword-only: FastAPI passes dependencies by name
        self,
        *,
        request: Request,
        session: DBSession,
        # Declared for the OpenAPI document (either scheme is accepted); `authorize` reads the request's caller.
        _bearer: Annotated[str | None, Depends(bearer_scheme)],
        _api_key: Annotated[str | None, Security(api_key_scheme)],
    ) -> Principal:
        principal = await authorize(session, request=request, scope=self.scope, admin=self.admin)
        if self.verified_email:
            service.require_verified_email(principal.user, settings=context_of(request).settings)
        return principal


async def authorize(session: AsyncSession, *, request: Request, scope: Scope | None, admin: bool) -> Principal:
    """`Authorized` as a plain function, for routes that are not declared with dependencies (dynamic endpoints).
    With `scope` None only a bearer token is accepted. Failed attempts are limited per client address, and a
    verified key gets a rate-limit budget of its own."""
    caller = request_caller(request)
    if caller.bearer is not None:
        principal = Principal(await _bearer_user(request, session))
    elif caller.api_key is not None and scope is not None:
        async with authentication_attempt(request, api_key=True):
            key, user = await service.key_holder(session, digest=caller.key_digest())
        if scope not in key.scopes:  # a real key, used where it has no right: not a failed authentication
            msg = f"This API key lacks the '{scope}' scope."
            raise PermissionDeniedError(msg)
        principal = Principal(user, key.key_id)
    elif scope is None:
        msg = "This operation needs a bearer token."
        raise AuthenticationError(msg)
    else:
        msg = f"This operation needs a bearer token or an API key (header {API_KEY_HEADER})."
        raise AuthenticationError(msg)
    if admin and not principal.user.is_admin:
        msg = "This operation is for administrators."
        raise PermissionDeniedError(msg)
    return principal


@dataclass(frozen=True, slots=True)
class Grants:
    """What a caller may do: its user (and so its role) and, for an API key, the key's scopes. A bearer token is
    bound by its user's role alone (`scopes` None)."""

    user: User
    scopes: frozenset[str] | None = None

    def allows(self, *, scope: str | None, admin: bool) -> bool:
        """Whether `authorize(scope=scope, admin=admin)` would admit this caller (scope None: a bearer token only)."""
        if admin and not self.user.is_admin:
            return False
        if self.scopes is None:
            return True
        return scope is not None and scope in self.scopes


async def caller_grants(session: AsyncSession, *, request: Request) -> Grants:
    """The request's caller, verified as `authorize` verifies it (401 without a valid token or key), with what it
    may do: for listing what a caller can call before it calls (the MCP server's tools)."""
    caller = request_caller(request)
    if caller.bearer is not None:
        return Grants(await _bearer_user(request, session))
    if caller.api_key is not None:
        async with authentication_attempt(request, api_key=True):
            key, user = await service.key_holder(session, digest=caller.key_digest())
        return Grants(user, frozenset(key.scopes))
    msg = f"This operation needs a bearer token or an API key (header {API_KEY_HEADER})."
    raise AuthenticationError(msg)
