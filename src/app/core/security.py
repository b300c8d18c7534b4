"""Passwords (Argon2id via pwdlib) and JSON Web Tokens (PyJWT).

Hashing is CPU-bound (tens of milliseconds by design), so it runs in a worker thread, never on the event loop.
Tokens pin the algorithm on decode, require every registered claim we rely on, and carry a `typ` claim so that a
token made for one purpose is never accepted for another. A token whose lifetime (`exp - iat`) exceeds its type's
configured TTL, or whose `sub` is not a canonical decimal id, is refused even when its signature holds. An access
token names its session (`sid`, canonical decimal too): it is good only while that session lives, which the
authentication checks in the statement that loads the user. Refresh tokens are not JWTs: they are opaque secrets
stored as digests (app.features.sessions). An MFA token (`typ` "mfa") says only that its user gave the right
password a few minutes ago: it completes that login with a second factor (app.features.mfa), and its `typ` keeps it
from ever passing for an access token, or an access token for it.
"""

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

import jwt
from anyio import to_thread
from fastapi import Depends, Request
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.config import Settings
from app.core.context import context_of
from app.core.database import utcnow
from app.core.identifiers import MAX_ID

__all__ = [
    "AccessClaims",
    "Hasher",
    "IssuedToken",
    "MfaClaims",
    "PasswordHasher",
    "TokenError",
    "TokenService",
    "TokenType",
    "Tokens",
    "get_password_hasher",
    "get_token_service",
]

_LEEWAY_SECONDS = 10
# The ids this service puts in tokens (the user in `sub`, the session in `sid`): canonical decimal, so that one id
# has one spelling (int() also takes " 1", "+1", "1_0" and full-width digits).
_CANONICAL_ID = re.compile(r"[1-9][0-9]{0,18}")
_TOKEN_ID = re.compile(r"[0-9a-f]{32}")  # the `jti` this service issues: uuid4().hex


class TokenType(StrEnum):
    ACCESS = "access"
    MFA = "mfa"


class TokenError(Exception):
    """The token is malformed, forged, expired or of the wrong type; the reason is for logs only."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says: its user and the session it belongs to."""

    user_id: int
    session_id: int


@dataclass(frozen=True, slots=True)
class MfaClaims:
    """What a verified MFA token says: whose password was right, and the token's own id (its attempts' budget)."""

    user_id: int
    token_id: str


def _id_claim(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    if not isinstance(value, str) or not _CANONICAL_ID.fullmatch(value):
        msg = f"{name} is not a canonical id"
        raise TokenError(msg)
    number = int(value)
    if number > MAX_ID:  # a 64-bit id would be a database error, not a 401
        msg = f"{name} is out of range"
        raise TokenError(msg)
    return number


class PasswordHasher:
    def __init__(self, settings: Settings) -> None:
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    memory_cost=settings.password_hash_memory_kib,
                    time_cost=settings.password_hash_iterations,
                    parallelism=settings.password_hash_parallelism,
                ),
            )
        )
        # Verified against when the account does not exist, so that a login takes as long either way.
        self._decoy_hash = self._hash.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await to_thread.run_sync(self._hash.hash, password)

    async def verify(self, password: str, hashed: str | None) -> tuple[bool, str | None]:
        """Check a password; returns (valid, new hash when the stored one uses outdated parameters)."""
        target = hashed if hashed is not None else self._decoy_hash
        valid, updated = await to_thread.run_sync(self._hash.verify_and_update, password, target)
        return (valid and hashed is not None), updated


class TokenService:
    def __init__(self, settings: Settings) -> None:
        self._key = settings.secret_key.get_secret_value()
        self._algorithm = settings.jwt_algorithm
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._ttl = {
            TokenType.ACCESS: settings.access_token_ttl_seconds,
            TokenType.MFA: settings.mfa_token_ttl_seconds,
        }

    def issue(self, *, subject: str, token_type: TokenType, extra: dict[str, str] | None = None) -> IssuedToken:
        now = utcnow()
        ttl = self._ttl[token_type]
        claims: dict[str, Any] = {
            **(extra or {}),
            "sub": subject,
            "typ": token_type.value,
            "iss": self._issuer,
            "aud": self._audience,
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(seconds=ttl),
            "jti": uuid.uuid4().hex,
        }
        return IssuedToken(jwt.encode(claims, self._key, algorithm=self._algorithm), ttl)

    def decode(self, token: str, *, expected_type: TokenType) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=_LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "sub", "iss", "aud", "typ"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from exc
        if claims.get("typ") != expected_type.value:
            msg = f"expected a {expected_type.value} token"
            raise TokenError(msg)
        # A token that outlives its type's TTL was not issued here: it was signed with a leaked key. (PyJWT takes
        # any value int() takes, "123" and true included; the times this service issues are JSON integers.)
        issued, expires = claims["iat"], claims["exp"]
        if type(issued) is not int or type(expires) is not int:
            msg = "iat and exp must be integers"
            raise TokenError(msg)
        if expires - issued > self._ttl[expected_type] + _LEEWAY_SECONDS:
            msg = f"the token lives longer than a {expected_type.value} token may"
            raise TokenError(msg)
        if not isinstance(claims["sub"], str) or not _CANONICAL_ID.fullmatch(claims["sub"]):
            msg = "the subject is not a canonical user id"
            raise TokenError(msg)
        return claims

    def issue_access(self, *, user_id: int, session_id: int) -> IssuedToken:
        """An access token for the user, naming the session it was issued in."""
        return self.issue(subject=str(user_id), token_type=TokenType.ACCESS, extra={"sid": str(session_id)})

    def access(self, token: str) -> AccessClaims:
        """The user and session of a valid access token; `TokenError` for ids no row can have, and for a token
        without a session (issued before sessions existed, or not by this service)."""
        claims = self.decode(token, expected_type=TokenType.ACCESS)
        return AccessClaims(user_id=_id_claim(claims, "sub"), session_id=_id_claim(claims, "sid"))

    def issue_mfa(self, *, user_id: int) -> IssuedToken:
        """An MFA token: the user's password was right; a second factor completes the login."""
        return self.issue(subject=str(user_id), token_type=TokenType.MFA)

    def mfa(self, token: str) -> MfaClaims:
        """The user and id of a valid MFA token; `TokenError` for anything else (an access token included)."""
        claims = self.decode(token, expected_type=TokenType.MFA)
        token_id = claims.get("jti")
        if not isinstance(token_id, str) or not _TOKEN_ID.fullmatch(token_id):
            msg = "jti is not a token id this service issues"
            raise TokenError(msg)
        return MfaClaims(user_id=_id_claim(claims, "sub"), token_id=token_id)


async def get_password_hasher(request: Request) -> PasswordHasher:
    return context_of(request).password_hasher


async def get_token_service(request: Request) -> TokenService:
    return context_of(request).token_service


Hasher = Annotated[PasswordHasher, Depends(get_password_hasher)]
Tokens = Annotated[TokenService, Depends(get_token_service)]
