"""`RateLimiter`: counting requests and refusals, and what it does when its backend fails."""

import pytest
from redis.asyncio import Redis

from app.core.exceptions import ServiceUnavailableError
from app.core.ratelimit import Limit, MemoryBackend, PolicySet, RateLimiter, RedisBackend
from tests.support.clock import FakeClock

POLICIES = {"default": PolicySet("default", (Limit(2, 60),))}


async def test_hit_counts_requests_and_rejections(clock: FakeClock) -> None:
    limiter = RateLimiter(MemoryBackend(clock=clock), POLICIES, fail_open=True)
    verdicts = [await limiter.hit("ip:192.0.2.1", "default") for _ in range(3)]
    assert [verdict is not None and verdict.allowed for verdict in verdicts] == [True, True, False]
    assert limiter.rejections_by_policy == {"default": 1}


async def test_peek_counts_a_refusal_but_no_request(clock: FakeClock) -> None:
    limiter = RateLimiter(MemoryBackend(clock=clock), POLICIES, fail_open=True)
    for _ in range(3):
        peeked = await limiter.peek("ip:192.0.2.1", "default")
        assert peeked is not None
        assert peeked.allowed
    await limiter.hit("ip:192.0.2.1", "default")
    await limiter.hit("ip:192.0.2.1", "default")
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
