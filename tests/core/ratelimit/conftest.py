import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.conftest import service_url_or_skip


class FakeClock:
    """Microseconds that move only when the test says so."""

    def __init__(self, start: int = 1_000_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * 1_000_000)


def redis_url_or_skip() -> str:
    return service_url_or_skip("FORGE_TEST_REDIS_URL", "Redis")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url_or_skip())
    yield client
    await client.aclose()


@pytest.fixture
def key_prefix() -> str:
    """A fresh namespace per test: tests share one Redis."""
    return f"forge-test:{uuid.uuid4().hex}:"
