"""GCRA (the generic cell rate algorithm), in integer microseconds.

Each key stores one number, its theoretical arrival time (TAT): the moment at which the key will have used none of
its allowance. A request costs one emission interval T = window / limit. It is allowed when, after adding T, the
TAT is no more than one window ahead of now. This is O(1) in time and memory, and `Retry-After` falls out of the
state: the time until the TAT is exactly one window ahead again.

Accuracy against an exact sliding log of the same `limit`/`window` (tested in tests/core/ratelimit/test_gcra.py):
- GCRA never refuses a request that the exact log would allow;
- over any interval of length d it allows at most `limit + floor(d / T)` requests: a burst of `limit`, then one per
  T. Over one window that is at most `2 * limit - 1` (the log: `limit`), or `2 * limit` when T is not a whole
  number of microseconds and had to be rounded down; over long periods both converge on `limit` per window.

The Redis backend runs the same arithmetic in Lua, so that both backends give the same answers.
"""

from dataclasses import dataclass

from app.core.ratelimit._policy import Limit

__all__ = ["Outcome", "gcra"]


@dataclass(frozen=True, slots=True)
class Outcome:
    allowed: bool
    tat: int  # the TAT to store when the request is allowed
    remaining: int  # requests that would still pass right now after this one
    retry_after_us: int  # 0 when allowed; else the wait until one request would pass
    reset_after_us: int  # until the full allowance is back


def gcra(stored_tat: int | None, now: int, limit: Limit, cost: int = 1) -> Outcome:
    base = stored_tat if stored_tat is not None and stored_tat > now else now
    new_tat = base + limit.emission_us * cost
    ahead = new_tat - now
    window = limit.window_us
    if ahead > window:
        return Outcome(False, base, 0, ahead - window, base - now)
    return Outcome(True, new_tat, (window - ahead) // limit.emission_us, 0, ahead)
