"""`RateLimiter`: the synchronous path the middleware takes for the memory backend, and its refusal elsewhere."""

import pytest
from redis.asyncio import Redis

from app.core.exceptions import ServiceUnavailableError
from app.core.ratelimit import Limit, MemoryBackend, PolicySet, RateLimiter, RedisBackend
from tests.support.clock import FakeClock

POLICIES = {"default": PolicySet("default", (Limit(2, 60),))}


async def test_hit_now_counts_like_hit_and_counts_rejections(clock: FakeClock) -> None:
    limiter = RateLimiter(MemoryBackend(clock=clock), POLICIES, fail_open=True)
    assert limiter.synchronous
    assert limiter.hit_now("ip:192.0.2.1", "default").allowed
    second = await limiter.hit("ip:192.0.2.1", "default")
    assert second is not None
    assert second.allowed
    assert not limiter.hit_now("ip:192.0.2.1", "default").allowed
    assert limiter.rejections_by_policy == {"default": 1}


def test_hit_now_refuses_a_backend_that_must_be_awaited() -> None:
    # Never connects: the client is only handed to the backend.
    limiter = RateLimiter(RedisBackend(Redis.from_url("redis://127.0.0.1:1/0")), POLICIES, fail_open=True)
    assert not limiter.synchronous
    with pytest.raises(TypeError, match="awaited"):
        limiter.hit_now("ip:192.0.2.1", "default")


async def test_peek_counts_a_refusal_but_no_request(clock: FakeClock) -> None:
    limiter = RateLimiter(MemoryBackend(clock=clock), POLICIES, fail_open=True)
    for _ in range(3):
        peeked = await limiter.peek("ip:192.0.2.1", "default")
        assert peeked is not None
        assert peeked.allowed
    limiter.hit_now("ip:192.0.2.1", "default")
    limiter.hit_now("ip:192.0.2.1", "default")
    refused = await limiter.peek("ip:192.0.2.1", "default")
    assert refused is not None
    assert not refused.allowed
    assert limiter.rejections_by_policy == {"default": 1}


@pytest.mark.parametrize("fail_open", [True, False])
async def test_peek_fails_open_or_closed_as_hit_does(fail_open: bool) -> None:
    backend = RedisBackend(Redis.from_url("redis://127.0.0.1:1/0"), timeout_seconds=0.2)  # nothing listens there
    limiter = RateLimiter(backend, POLICIES, fail_open=fail_open)
    if fail_open:
        assert await limiter.peek("ip:192.0.2.1", "default") is None
    else:
        with pytest.raises(ServiceUnavailableError):
            await limiter.peek("ip:192.0.2.1", "default")
    assert limiter.backend_failures == 1
    await limiter.close()
