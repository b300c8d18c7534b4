from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.core.database import Database
from tests.support.jobs import clear_jobs


@pytest.fixture
async def database(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Database]:
    """The app's database object on the test database; the queue's rows are committed, and removed afterwards."""
    database = Database(settings)
    yield database
    await database.dispose()
    await clear_jobs(engine)
