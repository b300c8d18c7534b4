"""The daily `users.purge_tokens` job: reset and verification tokens that expired unused are deleted, live ones
stay (used and voided tokens are deleted when that happens: tests/features/users/test_password_reset.py)."""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.core.database import Database, utcnow
from app.core.jobs import JobState, enqueue
from app.core.security import PasswordHasher
from app.features.users import service as users_service
from app.features.users.jobs import DAILY_PURGE, PURGE_TOKENS, PurgeTokens
from app.features.users.models import AccountToken, TokenPurpose
from app.features.users.schemas import UserCreate
from app.jobs import job_registry, periodic_jobs
from tests import helpers
from tests.support import databases
from tests.support.jobs import working
from tests.support.mail import settled


@pytest.fixture
async def database(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Database]:
    async with databases.committed(settings, engine) as committed:
        yield committed


async def test_expired_tokens_go_and_live_ones_stay(settings: Settings, database: Database) -> None:
    now = utcnow()
    async with database.session(writes=True) as session, session.begin():
        data = UserCreate(email=helpers.unique_email(), password=SecretStr(helpers.PASSWORD))
        user = await users_service.register_user(session, data=data, hasher=PasswordHasher(settings))
        ages = {"expired reset": -1, "live reset": 60, "expired verification": -3600, "live verification": 1}
        for name, seconds in ages.items():
            purpose = TokenPurpose.PASSWORD_RESET if "reset" in name else TokenPurpose.EMAIL_VERIFICATION
            session.add(
                AccountToken(
                    user_id=user.id,
                    purpose=purpose,
                    token_hash=name.ljust(32).encode(),
                    email=user.email,
                    created_at=now - timedelta(hours=1),
                    expires_at=now + timedelta(seconds=seconds),
                )
            )
        job = await enqueue(session, PURGE_TOKENS, PurgeTokens())

    async with working(database, [PURGE_TOKENS]):
        assert (await settled(database, job.id)).state == JobState.SUCCEEDED
    async with database.session(writes=False) as session:
        left = (await session.execute(select(AccountToken.token_hash))).scalars().all()
    assert sorted(digest.decode().strip() for digest in left) == ["live reset", "live verification"]


def test_the_purges_are_built_in_periodic_jobs_run_daily(settings: Settings) -> None:
    registry = job_registry(settings)
    assert DAILY_PURGE in periodic_jobs()
    assert {"users.purge_tokens", "sessions.purge"} <= {entry.job_type.name for entry in periodic_jobs()}
    for entry in periodic_jobs():
        assert registry.get(entry.job_type.name) is entry.job_type
        first = entry.schedule.after(utcnow())
        assert entry.schedule.after(first) - first == timedelta(days=1)
