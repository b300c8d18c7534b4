import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.conftest import REQUIRE_SERVICES

REDIS_URL = os.environ.get("FORGE_TEST_REDIS_URL")


class FakeClock:
    """Microseconds that move only when the test says so."""

    def __init__(self, start: int = 1_000_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * 1_000_000)


def redis_url_or_skip() -> str:
    if REDIS_URL:
        return REDIS_URL
    reason = "FORGE_TEST_REDIS_URL is not set: Redis tests need a server (see README)"
    if REQUIRE_SERVICES:
        pytest.fail(f"FORGE_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


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
