"""Sessions in tests: their endpoints, logging in with a chosen client, and moving a session's clock by editing its
row (never by sleeping)."""

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.features.sessions.models import SpentRefreshToken, UserSession
from tests import helpers

__all__ = [
    "LOGOUT",
    "ME",
    "REFRESH",
    "SESSIONS",
    "TOKEN",
    "access_works",
    "login",
    "move_back",
    "move_spent_back",
    "refresh",
    "session_row",
]

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/users/me"
SESSIONS = "/api/v1/users/me/sessions"


async def login(
    client: httpx.AsyncClient, email: str, *, password: str = helpers.PASSWORD, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Log in (with `headers`, such as a User-Agent); the token pair."""
    response = await client.post(TOKEN, data={"username": email, "password": password}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post(REFRESH, json={"refresh_token": refresh_token})


async def access_works(client: httpx.AsyncClient, access_token: str) -> bool:
    """Whether the access token is accepted (200) rather than refused (401)."""
    response = await client.get(ME, headers=helpers.bearer(access_token))
    assert response.status_code in {200, 401}, response.text
    return response.status_code == 200


async def session_row(db_session: AsyncSession, access_token: str) -> UserSession:
    """The row of the session an access token names, as it is now."""
    statement = select(UserSession).where(UserSession.id == int(helpers.session_id_of(access_token)))
    return (await db_session.execute(statement.execution_options(populate_existing=True))).scalar_one()


async def move_back(
    db_session: AsyncSession, access_token: str, *, last_used: timedelta = timedelta(), created: timedelta = timedelta()
) -> None:
    """Make the session of an access token as if it had been used `last_used` and created `created` earlier."""
    row = await session_row(db_session, access_token)
    await db_session.execute(
        update(UserSession)
        .where(UserSession.id == row.id)
        .values(last_used_at=row.last_used_at - last_used, created_at=row.created_at - created)
    )
    await db_session.commit()


async def move_spent_back(db_session: AsyncSession, access_token: str, by: timedelta) -> None:
    """Make the spent refresh tokens of an access token's session as if they had been rotated `by` earlier."""
    row = await session_row(db_session, access_token)
    for spent in (
        await db_session.execute(select(SpentRefreshToken).where(SpentRefreshToken.session_id == row.id))
    ).scalars():
        spent.spent_at -= by
    await db_session.commit()
