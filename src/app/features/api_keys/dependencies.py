"""`Authorized(scope)`: one dependency for routes that accept a JWT user or an API key holding a scope."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.api_keys import ApiKeyHasher
from app.core.context import context_of
from app.core.database import DBSession
from app.core.exceptions import AuthenticationError, PermissionDeniedError
from app.core.security import Tokens, TokenService
from app.features.api_keys import service
from app.features.api_keys.models import Scope
from app.features.users import service as users_service
from app.features.users.dependencies import bearer_scheme
from app.features.users.models import User
from app.shared.auth_attempts import authentication_attempt
from app.shared.routing import answers

__all__ = [
    "API_KEY_HEADER",
    "ApiKeyHasherDep",
    "Authorized",
    "Principal",
    "api_key_scheme",
    "authorize",
]

API_KEY_HEADER = "X-API-Key"
api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="An API key (`fgk_...`) issued by POST /api/v1/api-keys."
)


def get_api_key_hasher(request: Request) -> ApiKeyHasher:
    return context_of(request).api_key_hasher


ApiKeyHasherDep = Annotated[ApiKeyHasher, Depends(get_api_key_hasher)]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user, directly (JWT) or through one of its API keys."""

    user: User
    api_key_id: int | None = None


@answers(401, 403)
class Authorized:
    """A JWT user (admins only when `admin`), or an API key carrying `scope` whose owner is active (and admin)."""

    def __init__(self, scope: Scope, *, admin: bool = False) -> None:
        self.scope = scope
        self.admin = admin

    async def __call__(  # keyword-only: FastAPI passes dependencies by name
        self,
        *,
        request: Request,
        session: DBSession,
        tokens: Tokens,
        hasher: ApiKeyHasherDep,
        bearer: Annotated[str | None, Depends(bearer_scheme)],
        api_key: Annotated[str | None, Security(api_key_scheme)],
    ) -> Principal:
        return await authorize(
            session,
            request=request,
            tokens=tokens,
            hasher=hasher,
            bearer=bearer,
            api_key=api_key,
            scope=self.scope,
            admin=self.admin,
        )


async def authorize(
    session: AsyncSession,
    *,
    request: Request,
    tokens: TokenService,
    hasher: ApiKeyHasher,
    bearer: str | None,
    api_key: str | None,
    scope: Scope | None,
    admin: bool,
) -> Principal:
    """`Authorized` as a plain function, for callers that resolve credentials themselves (dynamic endpoints).
    With `scope` None only a bearer token is accepted. `request` is the one being authorised: failed
    attempts are limited per client address, and a verified key gets a rate-limit budget of its own."""
    if bearer:
        async with authentication_attempt(request):
            user = await users_service.authenticate_access_token(session, token=bearer, tokens=tokens)
        principal = Principal(user)
    elif api_key is not None and scope is not None:
        async with authentication_attempt(request, api_key=api_key):
            key = await service.authenticate(session, presented=api_key, hasher=hasher)
            user = await users_service.get_user(session, user_id=key.user_id)
            if not user.is_active:
                msg = "The API key's owner is deactivated."
                raise AuthenticationError(msg)
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
