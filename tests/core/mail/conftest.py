from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.core.database import Database
from app.core.encryption import EncryptionKeys, load_keys
from tests.support.jobs import committing_database


@pytest.fixture
async def database(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Database]:
    """The app's database object on the test database; the queue's rows are committed, and removed afterwards."""
    async with committing_database(settings, engine) as database:
        yield database


@pytest.fixture
def keys(settings: Settings) -> EncryptionKeys:
    """The test settings' field-encryption keys, which seal a queued mail's bodies."""
    return load_keys(settings)
