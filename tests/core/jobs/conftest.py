from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.core.database import Database
from tests.support.jobs import committing_database


@pytest.fixture
async def database(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Database]:
    """The app's database object on the test database; the queue's rows are committed, and removed afterwards."""
    async with committing_database(settings, engine) as database:
        yield database
