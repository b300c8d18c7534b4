"""Typed helpers that arrange users and tokens through the API or the services, and read problems."""

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import jwt
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.context import AppContext
from app.core.security import PasswordHasher
from app.features.users import service as users_service
from app.features.users.models import UserRole
from app.features.users.schemas import UserCreate

PROBLEM_JSON = "application/problem+json"
PROBLEM_PREFIX = "urn:forgeapi:problem:"
PASSWORD = "correct horse battery staple"
_sequence = itertools.count(1)

type Headers = dict[str, str]


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_sequence)}@example.com"


async def register(client: httpx.AsyncClient, *, email: str | None = None, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/api/v1/auth/register", json={"email": email or unique_email(), "password": password})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def session_id_of(access_token: str) -> str:
    """The session an access token names (its `sid` claim, read without verifying the token)."""
    sid: str = jwt.decode(access_token, options={"verify_signature": False})["sid"]
    return sid


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


async def user_headers(client: httpx.AsyncClient, *, email: str | None = None) -> Headers:
    user = await register(client, email=email)
    return bearer((await login(client, user["email"]))["access_token"])


async def admin_headers(client: httpx.AsyncClient, session: AsyncSession, hasher: PasswordHasher) -> Headers:
    """An administrator, created through the service (as `forge users create-admin` does), and its token."""
    email = unique_email("admin")
    data = UserCreate(email=email, password=SecretStr(PASSWORD))
    await users_service.register_user(session, data=data, hasher=hasher, role=UserRole.ADMIN, verified=True)
    await session.commit()
    return bearer((await login(client, email))["access_token"])


async def committed_admin_headers(context: AppContext, client: httpx.AsyncClient) -> Headers:
    """An administrator committed through the app's own database (for `committing_client` tests), and its token."""
    email = unique_email("admin")
    data = UserCreate(email=email, password=SecretStr(PASSWORD))
    async with context.database.session(writes=True) as session, session.begin():
        await users_service.register_user(
            session, data=data, hasher=context.password_hasher, role=UserRole.ADMIN, verified=True
        )
    return bearer((await login(client, email))["access_token"])


def money(value: str) -> Decimal:
    return Decimal(value)


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """Assert an RFC 9457 problem response with `status` and type `slug`; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == f"{PROBLEM_PREFIX}{slug}"
    return body


def error_pointers(response: httpx.Response) -> list[str]:
    """The JSON pointers of a 422 validation problem."""
    body = problem(response, 422, "validation-error")
    return [error["pointer"] for error in body["errors"]]


def token_claims(settings: Settings, subject: str, **overrides: Any) -> dict[str, Any]:
    """The claims of a valid access token (integer timestamps), with `overrides` applied."""
    now = int(datetime.now(UTC).timestamp())
    claims: dict[str, Any] = {
        "sub": subject,
        "typ": "access",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return claims
