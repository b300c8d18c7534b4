"""GCRA's accuracy against an exact sliding log, the bound documented in app/core/ratelimit/_gcra.py."""

import random
from collections import deque

import pytest

from app.core.ratelimit import MICROS, Limit, gcra


class ExactSlidingLog:
    """The reference: allows a request when fewer than `limit` were allowed in the last `window`."""

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self.allowed: deque[int] = deque()

    def would_allow(self, now: int) -> bool:
        while self.allowed and self.allowed[0] <= now - self.limit.window_us:
            self.allowed.popleft()
        return len(self.allowed) < self.limit.limit


def _run_gcra(limit: Limit, arrivals: list[int]) -> list[bool]:
    tat: int | None = None
    verdicts = []
    for now in arrivals:
        outcome = gcra(tat, now, limit)
        if outcome.allowed:
            tat = outcome.tat
        verdicts.append(outcome.allowed)
    return verdicts


def _arrivals(seed: int, limit: Limit, count: int) -> list[int]:
    rng = random.Random(seed)
    now, arrivals = 0, []
    for _ in range(count):
        # Bursts, pauses and steady trickles, around the limit's own rate.
        now += rng.choice([0, 0, 1, limit.emission_us // 3, limit.emission_us, limit.window_us // 2])
        arrivals.append(now)
    return arrivals


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("limit", [Limit(5, 1), Limit(100, 60), Limit(7, 3)])
def test_gcra_never_refuses_what_the_exact_log_allows(seed: int, limit: Limit) -> None:
    log = ExactSlidingLog(limit)
    tat: int | None = None
    for now in _arrivals(seed, limit, 600):
        log_allows = log.would_allow(now)
        outcome = gcra(tat, now, limit)
        if log_allows:
            assert outcome.allowed, f"GCRA refused at t={now} what the exact log allows"
        if outcome.allowed:
            tat = outcome.tat
            log.allowed.append(now)  # the log tracks what was actually admitted


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("limit", [Limit(5, 1), Limit(100, 60), Limit(7, 3)])
def test_gcra_allows_at_most_limit_plus_elapsed_over_emission_in_any_interval(seed: int, limit: Limit) -> None:
    arrivals = _arrivals(seed, limit, 600)
    admitted = [t for t, ok in zip(arrivals, _run_gcra(limit, arrivals), strict=True) if ok]
    for i, start in enumerate(admitted):
        for j in range(i, len(admitted)):
            span = admitted[j] - start
            if span >= 3 * limit.window_us:
                break
            assert j - i + 1 <= limit.limit + span // limit.emission_us
    # In particular: never more than 2 * limit - 1 in any one window (2 * limit when T had to be rounded down).
    per_window = 2 * limit.limit - (1 if limit.window_us % limit.limit == 0 else 0)
    for i, start in enumerate(admitted):
        assert sum(1 for t in admitted[i:] if t - start < limit.window_us) <= per_window


def test_exactly_limit_pass_at_once_and_the_next_is_refused() -> None:
    limit = Limit(100, 60)
    verdicts = _run_gcra(limit, [0] * 101)
    assert verdicts == [True] * 100 + [False]


def test_the_window_slides_one_request_per_emission_interval() -> None:
    limit = Limit(10, 10)  # one request per second after the burst
    verdicts = _run_gcra(limit, [0] * 10 + [MICROS - 1, MICROS, MICROS, 2 * MICROS])
    assert verdicts == [True] * 10 + [False, True, False, True]


def test_retry_after_is_honest() -> None:
    limit = Limit(3, 60)
    tat: int | None = None
    for _ in range(3):
        tat = gcra(tat, 0, limit).tat
    refused = gcra(tat, 5 * MICROS, limit)
    assert not refused.allowed
    assert refused.retry_after_us == 15 * MICROS  # the first of the three frees up at t=20 s
    assert not gcra(tat, 5 * MICROS + refused.retry_after_us - 1, limit).allowed
    assert gcra(tat, 5 * MICROS + refused.retry_after_us, limit).allowed


def test_remaining_and_reset_describe_the_state() -> None:
    limit = Limit(4, 8)
    first = gcra(None, 0, limit)
    assert (first.remaining, first.reset_after_us) == (3, 2 * MICROS)
    second = gcra(first.tat, 0, limit)
    assert (second.remaining, second.reset_after_us) == (2, 4 * MICROS)
