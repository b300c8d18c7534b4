"""The request's transaction: rolled back when an error escapes, committed anyway for an error whose writes are its
point (`ForgeError.keeps_writes`: a reused refresh token is refused, and the refusal revokes its session)."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.database import committing
from app.core.exceptions import AuthenticationError, ConflictError
from tests.support.counters import counter


class _RefusedButRecordedError(AuthenticationError):
    keeps_writes = True


@pytest.fixture
async def engine_with_no_counters(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    yield engine
    async with engine.begin() as connection:
        await connection.execute(delete(counter))


async def _write_and_raise(engine: AsyncEngine, error: Exception) -> None:
    async with committing(AsyncSession(engine)) as session:
        await session.execute(insert(counter).values(name="written", value=0, ceiling=1))
        raise error


async def _write_then_raise(engine: AsyncEngine, error: Exception) -> int:
    """Insert a counter in a `committing` block that then raises `error`; how many counters there are after."""
    with pytest.raises(type(error)):
        await _write_and_raise(engine, error)
    async with AsyncSession(engine) as session:
        return (await session.execute(select(func.count()).select_from(counter))).scalar_one()


async def test_an_error_rolls_the_writes_back(engine_with_no_counters: AsyncEngine) -> None:
    assert await _write_then_raise(engine_with_no_counters, ConflictError("no")) == 0
    assert await _write_then_raise(engine_with_no_counters, AuthenticationError("no")) == 0


async def test_an_error_that_keeps_its_writes_commits_them_and_is_still_raised(
    engine_with_no_counters: AsyncEngine,
) -> None:
    assert await _write_then_raise(engine_with_no_counters, _RefusedButRecordedError("refused")) == 1
