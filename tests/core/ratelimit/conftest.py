"""The limiter tests' fixtures: a clock they move by hand, the shared Redis, and a key namespace per test."""

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.support.clock import FakeClock
from tests.support.settings import redis_url_or_skip


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
