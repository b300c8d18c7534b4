"""The daily `sessions.purge` job: every user's sessions that ended over a week ago (revoked, idle past
FORGE_SESSION_IDLE_DAYS, older than FORGE_SESSION_MAX_DAYS) are deleted with their spent refresh tokens, whether or
not their user logs in again; recent and live ones stay."""

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.core.database import Database, utcnow
from app.core.jobs import JobState, enqueue
from app.core.security import PasswordHasher
from app.features.sessions.jobs import PURGE, PurgeSessions
from app.features.sessions.models import SpentRefreshToken, UserSession
from app.features.users import service as users_service
from app.features.users.schemas import UserCreate
from tests import helpers
from tests.support import databases
from tests.support.jobs import working
from tests.support.mail import settled


@pytest.fixture
async def database(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Database]:
    async with databases.committed(settings, engine) as committed:
        yield committed


def _session(user_id: int, name: str, *, created: datetime, used: datetime, revoked: datetime | None) -> UserSession:
    return UserSession(
        user_id=user_id,
        refresh_token_hash=name.ljust(32).encode(),
        created_at=created,
        last_used_at=used,
        user_agent=name,
        revoked_at=revoked,
    )


@pytest.mark.settings(session_idle_days=14, session_max_days=90)
async def test_sessions_that_ended_over_a_week_ago_go_with_their_spent_tokens(
    settings: Settings, database: Database
) -> None:
    now, day = utcnow(), timedelta(days=1)
    async with database.session(writes=True) as session, session.begin():
        owners = []
        for _ in range(2):
            data = UserCreate(email=helpers.unique_email(), password=SecretStr(helpers.PASSWORD))
            owners.append((await users_service.register_user(session, data=data, hasher=PasswordHasher(settings))).id)
        first, second = owners
        rows = [
            _session(first, "revoked 8 days ago", created=now - 20 * day, used=now - 9 * day, revoked=now - 8 * day),
            _session(first, "revoked 6 days ago", created=now - 20 * day, used=now - 7 * day, revoked=now - 6 * day),
            _session(second, "idle for 22 days", created=now - 30 * day, used=now - 22 * day, revoked=None),
            _session(second, "idle for 20 days", created=now - 30 * day, used=now - 20 * day, revoked=None),
            _session(second, "98 days old", created=now - 98 * day, used=now - day, revoked=None),
            _session(second, "live", created=now - 2 * day, used=now - day, revoked=None),
        ]
        session.add_all(rows)
        await session.flush()
        session.add(SpentRefreshToken(session_id=rows[0].id, token_hash=b"spent".ljust(32), spent_at=now - 9 * day))
        job = await enqueue(session, PURGE, PurgeSessions())

    async with working(database, [PURGE]):
        assert (await settled(database, job.id)).state == JobState.SUCCEEDED
    async with database.session(writes=False) as session:
        left = (await session.execute(select(UserSession.user_agent))).scalars().all()
        spent = (await session.execute(select(SpentRefreshToken))).scalars().all()
    assert sorted(str(agent) for agent in left) == ["idle for 20 days", "live", "revoked 6 days ago"]
    assert spent == []
