"""SQLite's single writer: slow requests must not hold the write lock while they are not writing."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.core.database import create_engine
from app.core.security import PasswordHasher
from app.main import create_app
from tests import helpers
from tests.support import databases
from tests.support.app import Running, running
from tests.support.settings import BASE_URL, make_settings


@pytest.fixture
async def sqlite_app(tmp_path: Path) -> AsyncIterator[Running]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'locking.db'}"
    await databases.recreate(url)
    settings = make_settings(url, sqlite_busy_timeout_ms=300)
    engine = create_engine(settings)
    await databases.upgrade(engine)
    await engine.dispose()
    app = create_app(settings)
    async with running(app) as started:
        yield started


async def test_a_login_verifying_its_password_does_not_block_writers(
    sqlite_app: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sqlite_app.asgi), base_url=BASE_URL) as client:
        user = await helpers.register(client)
        verifying, release = asyncio.Event(), asyncio.Event()
        original = PasswordHasher.verify

        async def slow_verify(self: PasswordHasher, password: str, hashed: str | None) -> tuple[bool, str | None]:
            verifying.set()
            await release.wait()  # as if Argon2 took a long time
            return await original(self, password, hashed)

        monkeypatch.setattr(PasswordHasher, "verify", slow_verify)
        login = asyncio.create_task(
            client.post("/api/v1/auth/token", data={"username": user["email"], "password": helpers.PASSWORD})
        )
        await verifying.wait()
        # A write while the login is verifying: it must not wait on (and time out behind) the login's transaction.
        other = await client.post(
            "/api/v1/auth/register", json={"email": helpers.unique_email(), "password": helpers.PASSWORD}
        )
        release.set()
        assert other.status_code == 201, other.text
        assert (await login).status_code == 200
