"""API keys: issuing (the secret is returned once), listing, revoking, and authenticating a presented key."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.api_keys import ApiKeyHasher, generate_api_key, key_hint
from app.core.database import utcnow
from app.core.exceptions import AuthenticationError, FieldError, InvalidInputError, found
from app.features.api_keys import repository
from app.features.api_keys.models import ApiKey, ApiKeyID, Scope
from app.features.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead

__all__ = ["ADMIN_ONLY_SCOPES", "AuthenticatedKey", "Scope", "authenticate", "issue", "list_keys", "revoke"]

# Scopes that only an administrator's key may carry (they mirror admin-only routes).
ADMIN_ONLY_SCOPES = frozenset({Scope.PRODUCTS_WRITE})
LAST_USED_RESOLUTION = timedelta(minutes=5)
MAX_LIFETIME = timedelta(days=3650)
_BAD_KEY = "The API key is invalid, expired or revoked."


@dataclass(frozen=True, slots=True)
class AuthenticatedKey:
    key_id: int
    user_id: int
    scopes: frozenset[Scope]


def _read(api_key: ApiKey) -> ApiKeyRead:
    return ApiKeyRead(
        id=api_key.id,
        name=api_key.name,
        hint=api_key.hint,
        scopes=sorted(api_key.scope_set),
        expires_at=api_key.expires_at,
        revoked_at=api_key.revoked_at,
        last_used_at=api_key.last_used_at,
        created_at=api_key.created_at,
    )


async def issue(
    session: AsyncSession, *, user_id: int, is_admin: bool, data: ApiKeyCreate, hasher: ApiKeyHasher
) -> ApiKeyCreated:
    """Create a key for the user; the secret is in the reply and nowhere else, ever."""
    if data.expires_at is not None and data.expires_at <= utcnow():
        error = FieldError(pointer="#/expires_at", message="must be in the future", code="past")
        raise InvalidInputError("The key would be expired already.", errors=[error])
    if data.expires_at is not None and data.expires_at > utcnow() + MAX_LIFETIME:
        error = FieldError(pointer="#/expires_at", message="at most 10 years ahead", code="too_far")
        raise InvalidInputError(
            "Keys expire within 10 years (omit expires_at for a key that never expires).", errors=[error]
        )
    forbidden = sorted(ADMIN_ONLY_SCOPES.intersection(data.scopes)) if not is_admin else []
    if forbidden:
        errors = [
            FieldError(pointer=f"#/scopes/{data.scopes.index(scope)}", message="for administrators only", code="scope")
            for scope in forbidden
        ]
        raise InvalidInputError("A key cannot carry scopes its owner does not have.", errors=errors)
    secret = generate_api_key()
    api_key = await repository.add(
        session,
        ApiKey(
            user_id=user_id,
            name=data.name,
            key_hash=hasher.digest(secret),
            hint=key_hint(secret),
            scopes=" ".join(sorted(set(data.scopes))),
            expires_at=data.expires_at,
        ),
    )
    return ApiKeyCreated(**_read(api_key).model_dump(), key=secret)


async def list_keys(session: AsyncSession, *, user_id: int) -> Sequence[ApiKeyRead]:
    return [_read(k) for k in await repository.list_for_user(session, user_id=user_id)]


async def revoke(session: AsyncSession, *, user_id: int, key_id: ApiKeyID) -> None:
    """Revoke one of the user's keys (others' keys are 404). Revoking twice is harmless."""
    stored = await repository.get_for_user(session, user_id=user_id, key_id=key_id)
    api_key = found(stored, f"API key {key_id} does not exist.")
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        await session.flush()


async def authenticate(session: AsyncSession, *, digest: bytes | None) -> AuthenticatedKey:
    """The live key whose keyed hash is `digest` (None: a malformed key, refused before any database access)."""
    if digest is None:
        raise AuthenticationError(_BAD_KEY)
    api_key = await repository.get_by_hash(session, digest)
    now = utcnow()
    if (
        api_key is None
        or api_key.revoked_at is not None
        or (api_key.expires_at is not None and api_key.expires_at <= now)
    ):
        raise AuthenticationError(_BAD_KEY)
    await repository.touch(session, key_id=api_key.id, now=now, every=LAST_USED_RESOLUTION)
    return AuthenticatedKey(key_id=api_key.id, user_id=api_key.user_id, scopes=api_key.scope_set)
