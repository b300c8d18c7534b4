"""The memory backend's bounds: per-key size, the cap on tracked keys, and the eviction policy."""

import gc
import tracemalloc

import pytest

from app.core.ratelimit import Decision, Limit, MemoryBackend, PolicySet
from app.core.ratelimit._gcra import Outcome, gcra
from app.core.ratelimit._memory import SWEEP_INTERVAL_US
from tests.support.clock import FakeClock

POLICY = PolicySet("default", (Limit(100, 60),))
BYTES_PER_KEY_BOUND = 200  # documented in docs/rate-limiting.md, key string included


def _ipv4_keys(count: int) -> list[str]:
    return [f"ip:10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(count)]


def test_100k_distinct_keys_stay_within_the_documented_bytes_per_key(clock: FakeClock) -> None:
    backend = MemoryBackend(max_keys=200_000, clock=clock)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for key in _ipv4_keys(100_000):  # the key strings are allocated here, inside the measurement
            backend.check(key, POLICY)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(backend) == 100_000
    assert used / 100_000 <= BYTES_PER_KEY_BOUND


def test_the_number_of_tracked_keys_never_exceeds_the_cap(clock: FakeClock) -> None:
    backend = MemoryBackend(max_keys=1000, clock=clock)
    for key in _ipv4_keys(5000):
        backend.check(key, POLICY)
        assert len(backend) <= 1000


def test_a_full_table_drops_the_keys_closest_to_expiry_and_keeps_refused_clients(clock: FakeClock) -> None:
    backend = MemoryBackend(max_keys=100, clock=clock)
    abuser = "ip:203.0.113.66"
    while backend.check(abuser, POLICY).allowed:
        pass
    for key in _ipv4_keys(500):  # an identity-rotating flood, one request each
        backend.check(key, POLICY)
    assert not backend.check(abuser, POLICY).allowed, "the refused client was forgiven by the eviction"


def test_expired_keys_are_swept(clock: FakeClock) -> None:
    backend = MemoryBackend(clock=clock)
    for key in _ipv4_keys(1000):
        backend.check(key, POLICY)
    clock.advance(61)  # past every key's TAT and past the sweep interval
    backend.check("ip:192.0.2.1", POLICY)
    assert len(backend) == 1


def test_a_refused_request_stores_nothing_new(clock: FakeClock) -> None:
    backend = MemoryBackend(clock=clock)
    tight = PolicySet("tight", (Limit(1, 60),))
    backend.check("ip:192.0.2.1", tight)
    size = len(backend)
    assert not backend.check("ip:192.0.2.1", tight).allowed
    assert len(backend) == size


def test_a_set_that_changes_its_limits_starts_afresh_and_keeps_the_count_right(clock: FakeClock) -> None:
    backend = MemoryBackend(clock=clock)
    for key in _ipv4_keys(10):
        backend.check(key, POLICY)
    two_limits = PolicySet("default", (Limit(5, 1), Limit(100, 60)))
    backend.check("ip:192.0.2.1", two_limits)
    assert len(backend) == 2  # one entry per limit of the new set; the old set's ten are gone
    assert backend.check("ip:192.0.2.1", two_limits).remaining == 3


def _as_decision(policy: PolicySet, outcome: Outcome) -> Decision:
    return Decision(outcome.allowed, policy, 0, outcome.remaining, outcome.retry_after_us, outcome.reset_after_us)


# 1500/second: the emission interval (666 us) is rounded down, so a new key has 1500 requests left, not 1499.
@pytest.mark.parametrize("limit", [Limit(100, 60), Limit(7, 1), Limit(1500, 1), Limit(1, 3600)], ids=str)
def test_a_new_key_gets_exactly_the_verdict_of_the_gcra_arithmetic(clock: FakeClock, limit: Limit) -> None:
    policy = PolicySet("default", (limit,))
    backend = MemoryBackend(clock=clock)
    first = gcra(None, clock.now, limit)
    assert backend.check("ip:192.0.2.1", policy) == _as_decision(policy, first)
    clock.advance(0.0001)
    assert backend.check("ip:192.0.2.1", policy) == _as_decision(policy, gcra(first.tat, clock.now, limit))
    # A key that expired and was swept is new again, and counted once.
    clock.advance(limit.window + SWEEP_INTERVAL_US / 1e6)
    assert backend.check("ip:192.0.2.2", policy).allowed  # triggers the sweep
    assert len(backend) == 1
    assert backend.check("ip:192.0.2.1", policy) == _as_decision(policy, gcra(None, clock.now, limit))
    assert len(backend) == 2


def test_a_new_key_with_a_cost_is_charged_the_cost_and_refused_past_the_limit(clock: FakeClock) -> None:
    backend = MemoryBackend(clock=clock)
    limit = POLICY.limits[0]
    assert backend.check("ip:192.0.2.1", POLICY, cost=3) == _as_decision(POLICY, gcra(None, clock.now, limit, 3))
    refused = backend.check("ip:192.0.2.2", POLICY, cost=limit.limit + 1)
    assert refused == _as_decision(POLICY, gcra(None, clock.now, limit, limit.limit + 1))
    assert not refused.allowed
    assert len(backend) == 1


def test_a_key_whose_allowance_is_back_gets_the_new_key_verdict_and_stays_counted_once(clock: FakeClock) -> None:
    backend = MemoryBackend(clock=clock)
    limit = POLICY.limits[0]  # one request frees up every 0.6 s
    fresh = backend.check("ip:192.0.2.1", POLICY)
    clock.advance(0.1)  # still using its allowance: the arithmetic's verdict
    busy = backend.check("ip:192.0.2.1", POLICY)
    assert busy == _as_decision(POLICY, gcra(clock.now - 100_000 + limit.emission_us, clock.now, limit))
    assert busy.remaining == fresh.remaining - 1
    clock.advance(5)  # all of it is back, though the entry has not been swept
    assert len(backend) == 1
    restored = backend.check("ip:192.0.2.1", POLICY)
    assert restored == fresh == _as_decision(POLICY, gcra(None, clock.now, limit))
    assert len(backend) == 1
    # The entry was charged: an immediate second request is the arithmetic's verdict from the new TAT.
    assert backend.check("ip:192.0.2.1", POLICY) == _as_decision(
        POLICY, gcra(clock.now + limit.emission_us, clock.now, limit)
    )
    clock.advance(5)
    with_cost = backend.check("ip:192.0.2.1", POLICY, cost=4)
    assert with_cost == _as_decision(POLICY, gcra(None, clock.now, limit, 4))
    assert len(backend) == 1


def test_the_allowance_is_back_exactly_at_the_tat_and_not_a_microsecond_before(clock: FakeClock) -> None:
    backend = MemoryBackend(clock=clock)
    emission = POLICY.limits[0].emission_us
    fresh = backend.check("ip:192.0.2.1", POLICY)
    clock.now += emission - 1
    assert backend.check("ip:192.0.2.1", POLICY).reset_after_us == emission + 1  # 1 us still owed
    clock.now += emission + 1  # exactly at the TAT the second request set
    assert backend.check("ip:192.0.2.1", POLICY) is fresh
