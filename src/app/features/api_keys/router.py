from collections.abc import Sequence

from fastapi import APIRouter, status

from app.core.context import Context
from app.core.database import DBSession
from app.core.identifiers import ResourceID
from app.features.api_keys import service
from app.features.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from app.features.auth.dependencies import CurrentUser, VerifiedUser
from app.shared.routing import ForgeRoute

__all__ = ["router"]

# Managed with a user's token only: a key cannot mint or list keys.
router = APIRouter(prefix="/api-keys", tags=["api-keys"], route_class=ForgeRoute)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_api_key(data: ApiKeyCreate, session: DBSession, user: VerifiedUser, context: Context) -> ApiKeyCreated:
    """Issue a key. The reply's `key` is the secret, shown this once. With FORGE_REQUIRE_VERIFIED_EMAIL, only for a
    user whose e-mail address is verified (403 `email-not-verified`)."""
    hasher = context.secret_hasher
    return await service.issue(session, user_id=user.id, is_admin=user.is_admin, data=data, hasher=hasher)


@router.get("")
async def list_api_keys(session: DBSession, user: CurrentUser) -> Sequence[ApiKeyRead]:
    return await service.list_keys(session, user_id=user.id)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(key_id: ResourceID, session: DBSession, user: CurrentUser) -> None:
    await service.revoke(session, user_id=user.id, key_id=key_id)
