"""The in-process backend: one integer per (key, limit), bounded in number, on the monotonic clock."""

import time
from collections.abc import Callable

from app.core.ratelimit._decision import Decision, decide
from app.core.ratelimit._gcra import gcra
from app.core.ratelimit._policy import MICROS, PolicySet

__all__ = ["MemoryBackend", "monotonic_us"]

SWEEP_INTERVAL_US = 60 * MICROS
# When the table is full and nothing has expired, this share of it is dropped in one go (amortising the sort).
EVICT_FRACTION = 0.1


def monotonic_us() -> int:
    return time.monotonic_ns() // 1000


class MemoryBackend:
    """Per-process state: right for one worker (the default); use Redis to share limits across processes.

    Memory is bounded: entries whose allowance is fully restored carry no information and are swept once a
    minute; and the table never holds more than `max_keys` entries. When it is full, expired entries go first;
    if none have expired, the 10 % of entries closest to expiry are dropped (those clients lose the least
    state, and a client that is being refused keeps its far-future TAT, so rotating identities cannot free an
    abuser). A sweep is O(n) but runs at most once a minute or once per `max_keys / 10` new keys.
    """

    def __init__(self, *, max_keys: int = 100_000, clock: Callable[[], int] = monotonic_us) -> None:
        self._tats: dict[str, int] = {}
        self._max_keys = max_keys
        self._clock = clock
        self._next_sweep = clock() + SWEEP_INTERVAL_US

    def __len__(self) -> int:
        return len(self._tats)

    def check(self, key: str, policy: PolicySet, cost: int = 1) -> Decision:
        key = f"{policy.name}|{key}"
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep_expired(now)
        if len(policy.limits) == 1:
            return self._check_one(key, policy, cost, now)
        tats = self._tats
        keys = [f"{key}#{i}" for i in range(len(policy.limits))]
        outcomes = [gcra(tats.get(k), now, limit, cost) for k, limit in zip(keys, policy.limits, strict=True)]
        decision = decide(policy, outcomes)
        if decision.allowed:
            for k, outcome in zip(keys, outcomes, strict=True):
                self._store(k, outcome.tat, now)
        return decision

    def _check_one(self, key: str, policy: PolicySet, cost: int, now: int) -> Decision:
        # The common case, inlined: this runs on every request, and the general path costs ~3x more.
        limit = policy.limits[0]
        stored = self._tats.get(key)
        base = stored if stored is not None and stored > now else now
        new_tat = base + limit.emission_us * cost
        ahead = new_tat - now
        if ahead > limit.window_us:
            return Decision(False, policy, 0, 0, ahead - limit.window_us, base - now)
        if stored is None and len(self._tats) >= self._max_keys:
            self._make_room(now)
        self._tats[key] = new_tat
        return Decision(True, policy, 0, (limit.window_us - ahead) // limit.emission_us, 0, ahead)

    async def hit(self, key: str, policy: PolicySet, cost: int = 1) -> Decision:
        return self.check(key, policy, cost)

    async def close(self) -> None:
        self._tats.clear()

    def _store(self, key: str, tat: int, now: int) -> None:
        tats = self._tats
        if key not in tats and len(tats) >= self._max_keys:
            self._make_room(now)
        tats[key] = tat

    def _sweep_expired(self, now: int) -> None:
        self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
        self._next_sweep = now + SWEEP_INTERVAL_US

    def _make_room(self, now: int) -> None:
        self._sweep_expired(now)
        excess = len(self._tats) - int(self._max_keys * (1 - EVICT_FRACTION))
        if excess > 0:
            for key, _ in sorted(self._tats.items(), key=lambda item: item[1])[:excess]:
                del self._tats[key]
