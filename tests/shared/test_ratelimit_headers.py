"""The rate-limit header fields, built from a decision or prebuilt for a full allowance: always the same bytes."""

import math

import pytest

from app.core.ratelimit import Decision, Limit, MemoryBackend, PolicySet
from app.shared.ratelimit import response_headers
from tests.support.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _expected(decision: Decision) -> dict[bytes, bytes]:
    """The five fields as the RateLimit draft and the X- trio define them, from the decision's own numbers."""
    policy, limit = decision.policy, decision.limit
    reset = math.ceil(decision.reset_after_us / 1_000_000)
    label = policy.label(decision.limit_index)
    return {
        b"ratelimit-policy": policy.header,
        b"ratelimit": f'"{label}";r={decision.remaining};t={reset}'.encode(),
        b"x-ratelimit-limit": str(limit.limit).encode(),
        b"x-ratelimit-remaining": str(decision.remaining).encode(),
        b"x-ratelimit-reset": str(reset).encode(),
    }


def _sequence(policy: PolicySet, clock: FakeClock) -> list[Decision]:
    """New, busy, restored, refused and costly verdicts for one client."""
    backend = MemoryBackend(clock=clock)
    decisions: list[Decision] = []
    for step, cost in [(0, 1), (0.001, 1), (0.002, 3), (30, 1), (0, 1), (0, 10), (3600, 1), (0, 1), (0, 2000)]:
        clock.advance(step)
        decisions.extend(backend.check("ip:192.0.2.1", policy, cost) for _ in range(2))
    return decisions


@pytest.mark.parametrize(
    "limits",
    [(Limit(10, 10),), (Limit(1500, 1),), (Limit(1, 3600),), (Limit(5, 1), Limit(100, 60))],
    ids=lambda limits: ";".join(map(str, limits)),
)
def test_every_verdict_gets_the_fields_its_numbers_give(clock: FakeClock, limits: tuple[Limit, ...]) -> None:
    policy = PolicySet("default", limits)
    decisions = _sequence(policy, clock)
    assert {d.allowed for d in decisions} == {True, False}
    for decision in decisions:
        fields = response_headers({"rate_limit_decisions": [decision]})
        assert len(fields) == 5
        assert dict(fields) == _expected(decision), decision


def test_a_full_allowance_gets_the_prebuilt_fields_and_nothing_else_does(clock: FakeClock) -> None:
    policy = PolicySet("default", (Limit(10, 10),))  # one request frees up every second
    backend = MemoryBackend(clock=clock)
    prebuilt = policy.full_allowance_fields[0]
    assert response_headers({"rate_limit_decisions": [backend.check("ip:192.0.2.1", policy)]}) is prebuilt
    busy = backend.check("ip:192.0.2.1", policy)
    assert response_headers({"rate_limit_decisions": [busy]}) is not prebuilt
    # Refused with a reset time of exactly one emission interval, as a full allowance has: it has 0 left, not 9.
    clock.advance(1)
    refused = backend.check("ip:192.0.2.1", policy, cost=10)
    assert not refused.allowed
    assert refused.reset_after_us == policy.limits[0].emission_us
    assert dict(response_headers({"rate_limit_decisions": [refused]}))[b"x-ratelimit-remaining"] == b"0"


def test_no_decision_means_no_fields() -> None:
    assert list(response_headers({})) == []
    assert list(response_headers({"rate_limit_decisions": []})) == []
