from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.core.database import Database
from tests.support.webhooks import Receiver, receiver, webhook_database


@pytest.fixture
async def database(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Database]:
    """The app's database on the test database, for committed webhooks, events and jobs (removed afterwards)."""
    async with webhook_database(settings, engine) as database:
        yield database


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    """A webhook receiver on loopback."""
    with receiver() as started:
        yield started
