"""One conformance suite for both backends: the same requests at the same times get the same answers."""

import random
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.core.ratelimit import Backend, Decision, Limit, MemoryBackend, PolicySet, RedisBackend
from tests.support.clock import FakeClock
from tests.support.settings import redis_url_or_skip

ONE = PolicySet("default", (Limit(5, 10),))
PAIR = PolicySet("login", (Limit(3, 1), Limit(5, 60)))
# An emission interval that is rounded down (1 s / 7): the backends must round the same way.
ODD = PolicySet("odd", (Limit(7, 1),))


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest, clock: FakeClock, key_prefix: str) -> AsyncIterator[Backend]:
    if request.param == "memory":
        yield MemoryBackend(clock=clock)
        return
    redis = Redis.from_url(redis_url_or_skip())
    yield RedisBackend(redis, key_prefix=key_prefix, clock=clock)
    await redis.aclose()


async def _hits(backend: Backend, policy: PolicySet, count: int, key: str = "ip:192.0.2.1") -> list[Decision]:
    return [await backend.hit(key, policy) for _ in range(count)]


async def test_exactly_the_limit_passes_and_the_next_is_refused(backend: Backend) -> None:
    decisions = await _hits(backend, ONE, 6)
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]


async def test_the_window_slides_and_retry_after_is_honest(backend: Backend, clock: FakeClock) -> None:
    *_, refused = await _hits(backend, ONE, 6)
    assert refused.retry_after_seconds == 2  # one request "costs" 2 s of a 5-per-10-s allowance
    clock.advance(refused.retry_after_seconds - 0.001)
    assert not (await backend.hit("ip:192.0.2.1", ONE)).allowed
    clock.advance(0.001)
    assert (await backend.hit("ip:192.0.2.1", ONE)).allowed


async def test_keys_and_policies_are_independent(backend: Backend) -> None:
    await _hits(backend, ONE, 5, key="ip:192.0.2.1")
    assert not (await backend.hit("ip:192.0.2.1", ONE)).allowed
    assert (await backend.hit("ip:192.0.2.2", ONE)).allowed
    assert (await backend.hit("ip:192.0.2.1", PolicySet("other", ONE.limits))).allowed


async def test_a_set_refused_by_one_limit_consumes_nothing_from_the_others(backend: Backend, clock: FakeClock) -> None:
    decisions = await _hits(backend, PAIR, 4)
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].limit == Limit(3, 1)  # the per-second limit refused
    clock.advance(1)
    after = await _hits(backend, PAIR, 3)
    # The refused request did not count towards the 5-per-minute limit: two more pass, then it refuses.
    assert [d.allowed for d in after] == [True, True, False]
    assert after[-1].limit == Limit(5, 60)


@pytest.mark.parametrize("policy", [ONE, PAIR], ids=["one-limit", "two-limits"])
async def test_peek_tells_the_next_verdict_and_counts_nothing(backend: Backend, policy: PolicySet) -> None:
    for _ in range(7):
        first, second = await backend.peek("ip:192.0.2.9", policy), await backend.peek("ip:192.0.2.9", policy)
        assert first == second, "a peek must not count"
        assert first == await backend.hit("ip:192.0.2.9", policy)


async def test_both_backends_agree_on_a_random_sequence(clock: FakeClock, redis: Redis, key_prefix: str) -> None:
    other_clock = FakeClock(clock.now)
    memory = MemoryBackend(clock=clock)
    shared = RedisBackend(redis, key_prefix=key_prefix, clock=other_clock)
    rng = random.Random(7)
    for step in range(400):
        seconds = rng.choice([0, 0, 0.05, 0.3, 1, 2.5])
        clock.advance(seconds)
        other_clock.advance(seconds)
        key = rng.choice(["ip:192.0.2.1", "ip:192.0.2.2", "user:7"])
        policy = rng.choice([ONE, PAIR, ODD])
        cost = rng.choice([1, 1, 1, 2, 6])
        assert await memory.hit(key, policy, cost) == await shared.hit(key, policy, cost), f"step {step}"
