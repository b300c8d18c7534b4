"""The users feature's public dependencies: `CurrentUser` and `AdminUser`, used by every feature's router."""

from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from app.core.database import DBSession
from app.core.exceptions import AuthenticationError, PermissionDeniedError
from app.core.security import Tokens
from app.features.users import service
from app.features.users.models import User
from app.shared.routing import answers

__all__ = ["AdminUser", "CurrentUser", "bearer_scheme"]

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret
# auto_error=False: a missing token is raised as our own AuthenticationError, so it is a problem+json 401.
bearer_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


@answers(401)
async def get_current_user(
    session: DBSession, tokens: Tokens, token: Annotated[str | None, Depends(bearer_scheme)]
) -> User:
    if not token:
        msg = "This operation needs a bearer token."
        raise AuthenticationError(msg)
    return await service.authenticate_access_token(session, token=token, tokens=tokens)


CurrentUser = Annotated[User, Depends(get_current_user)]


@answers(403)
async def require_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        msg = "This operation is for administrators."
        raise PermissionDeniedError(msg)
    return user


AdminUser = Annotated[User, Depends(require_admin)]
