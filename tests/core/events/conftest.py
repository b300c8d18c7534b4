from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.core.database import Database
from app.core.events import Event
from tests.support.jobs import committing_database


@pytest.fixture
async def database(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Database]:
    """The app's database on the test database; events and jobs are committed, and removed afterwards."""
    async with committing_database(settings, engine) as database:
        yield database
    async with engine.begin() as connection:
        await connection.execute(delete(Event))
