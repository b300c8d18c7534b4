"""The users feature's public dependencies: `CurrentUser`, `DetachedCurrentUser` and `AdminUser`, used by every
feature's router."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.core.database import DBSession, ReadMostlyDBSession
from app.core.exceptions import AuthenticationError, PermissionDeniedError
from app.core.security import Tokens
from app.features.users import service
from app.features.users.models import User
from app.shared.auth_attempts import authentication_attempt
from app.shared.routing import answers

__all__ = ["AdminUser", "CurrentUser", "DetachedCurrentUser", "bearer_scheme"]

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret
# auto_error=False: a missing token is raised as our own AuthenticationError, so it is a problem+json 401.
bearer_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


@answers(401)
async def get_current_user(
    request: Request, session: DBSession, tokens: Tokens, token: Annotated[str | None, Depends(bearer_scheme)]
) -> User:
    if not token:
        msg = "This operation needs a bearer token."
        raise AuthenticationError(msg)
    async with authentication_attempt(request):  # failed tokens are limited per client address
        return await service.authenticate_access_token(session, token=token, tokens=tokens)


CurrentUser = Annotated[User, Depends(get_current_user)]


@answers(401)
async def get_detached_current_user(
    request: Request,
    session: ReadMostlyDBSession,
    tokens: Tokens,
    token: Annotated[str | None, Depends(bearer_scheme)],
) -> User:
    """The caller, loaded in a session that is closed before the handler runs.

    For routes that do slow work without the database (the aggregation waits on upstreams for up to
    FORGE_AGGREGATE_TIMEOUT): the session's connection goes back to the pool at once instead of being held until
    the handler returns, so slow upstreams cannot drain the pool. The user is detached: its loaded columns stay
    readable, but it cannot lazy-load or be written through this session.
    """
    try:
        return await get_current_user(request, session, tokens, token)
    finally:
        await session.close()  # releases the connection; the dependency's later commit finds nothing to do


DetachedCurrentUser = Annotated[User, Depends(get_detached_current_user)]


@answers(403)
async def require_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        msg = "This operation is for administrators."
        raise PermissionDeniedError(msg)
    return user


AdminUser = Annotated[User, Depends(require_admin)]
