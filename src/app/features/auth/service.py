"""Resolving a verified credential to the account behind it: a token's user, or an API key and its owner."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.exceptions import AuthenticationError
from app.core.security import AccessClaims
from app.features.api_keys import service as api_keys_service
from app.features.users import service as users_service
from app.features.users.models import User

__all__ = ["key_holder", "require_verified_email", "token_user"]


async def token_user(session: AsyncSession, *, access: AccessClaims | None, settings: Settings) -> User:
    """The active user of a verified access token whose session is live (`access` None: the token did not verify),
    loaded and checked in one statement."""
    user_id, session_id = (access.user_id, access.session_id) if access is not None else (None, None)
    return await users_service.authenticate_user(session, user_id=user_id, session_id=session_id, settings=settings)


async def key_holder(session: AsyncSession, *, digest: bytes | None) -> tuple[api_keys_service.AuthenticatedKey, User]:
    """The live API key with this keyed hash (None: a malformed key) and its active owner."""
    key = await api_keys_service.authenticate(session, digest=digest)
    user = await users_service.get_user(session, user_id=key.user_id)
    if not user.is_active:
        msg = "The API key's owner is deactivated."
        raise AuthenticationError(msg)
    return key, user


def require_verified_email(user: User, *, settings: Settings) -> None:
    """403 `email-not-verified` for a user with an unverified address, when FORGE_REQUIRE_VERIFIED_EMAIL is on."""
    users_service.require_verified_email(user, settings=settings)
