"""The in-process backend: one integer per (key, limit), bounded in number, on the monotonic clock."""

from collections.abc import Callable
from itertools import chain
from time import monotonic_ns

from app.core.ratelimit._decision import Decision, decide
from app.core.ratelimit._gcra import gcra
from app.core.ratelimit._policy import MICROS, PolicySet

__all__ = ["MemoryBackend"]

SWEEP_INTERVAL_US = 60 * MICROS
# When the table is full and nothing has expired, this share of it is dropped in one go (amortising the sort).
EVICT_FRACTION = 0.1

type Table = dict[str, int]  # client key -> its TAT, in nanoseconds
# A single-limit set's record: (the set, its table, emission and window in nanoseconds, the decision for a full
# allowance).
type Single = tuple[PolicySet, Table, int, int, Decision]
NANOS_PER_MICRO = 1000

# `Decision(...)` runs a Python-level __new__; `tuple.__new__(Decision, fields)` builds the same NamedTuple in C,
# in half the time, and one is built per request. Fields in declaration order.
_new_tuple = tuple.__new__


class MemoryBackend:
    """Per-process state: right for one worker (the default); use Redis to share limits across processes.

    Each limit of each policy set has a table of its own, keyed by the caller's key string itself: no key is
    built per check, and a string's hash is computed once.

    Memory is bounded: entries whose allowance is fully restored carry no information and are swept once a
    minute; and the tables never hold more than `max_keys` entries together. When they are full, expired entries
    go first; if none have expired, the 10 % of entries closest to expiry are dropped (those clients lose the
    least state, and a client that is being refused keeps its far-future TAT, so rotating identities cannot free
    an abuser). A sweep is O(n) but runs at most once a minute or once per `max_keys / 10` new keys.
    """

    def __init__(self, *, max_keys: int = 100_000, clock: Callable[[], int] | None = None) -> None:
        self._tables: dict[str, list[Table]] = {}
        # Single-limit policy sets, the common case, by name: all a check needs in one lookup. Checked by
        # identity, so a set of that name with other limits is not mixed up.
        self._single: dict[str, Single] = {}
        self._size = 0
        self._max_keys = max_keys
        # None: the monotonic clock, read inline on the hot path (a function call more costs ~10 % of a check).
        # Time is kept in nanoseconds, as `monotonic_ns` gives it: converting every reading to microseconds
        # costs a long division, and 15 % of a check. The GCRA's arithmetic is the same in either unit: limits
        # are whole microseconds, and so is an injected clock, whose readings are scaled.
        self._clock = clock
        self._next_sweep = self._now() + SWEEP_INTERVAL_US * NANOS_PER_MICRO

    def __len__(self) -> int:
        return self._size

    def _now(self) -> int:
        return monotonic_ns() if self._clock is None else self._clock() * NANOS_PER_MICRO

    def check(self, key: str, policy: PolicySet, cost: int = 1) -> Decision:  # noqa: C901 - inlined: every request
        now = monotonic_ns() if self._clock is None else self._clock() * NANOS_PER_MICRO
        if now >= self._next_sweep:
            self._sweep_expired(now)
        single = self._single.get(policy.name)
        if single is None or single[0] is not policy:
            single = self._register(policy)
            if single is None:
                return self._check_all(key, policy, cost, now)
        # One limit, inlined: this runs on every request, and the general path costs ~3x more.
        _, table, emission, window, first = single
        stored = table.get(key)
        if stored is None or stored <= now:
            if cost == 1:
                # A full allowance: a new client (or one whose entry was swept), or one whose allowance is back,
                # as it is for every client that stays under its rate. The verdict is then always the same, built
                # once; skipping the arithmetic and a Decision nearly halves the check.
                if stored is None:
                    if self._size >= self._max_keys:
                        self._make_room(now)
                    self._size += 1
                table[key] = now + emission
                return first
            base = now
        else:
            base = stored
        new_tat = base + emission * cost
        ahead = new_tat - now
        # Microseconds in the verdict, rounded up: a client told to wait that long is never early.
        if ahead > window:
            retry_after, reset_after = -(-(ahead - window) // NANOS_PER_MICRO), -(-(base - now) // NANOS_PER_MICRO)
            return _new_tuple(Decision, (False, policy, 0, 0, retry_after, reset_after))
        if stored is None:
            if self._size >= self._max_keys:
                self._make_room(now)
            self._size += 1
        table[key] = new_tat
        return _new_tuple(Decision, (True, policy, 0, (window - ahead) // emission, 0, -(-ahead // NANOS_PER_MICRO)))

    def _register(self, policy: PolicySet) -> Single | None:
        """The set's fast-path record if it has a single limit (its tables created if need be), else None."""
        tables = self._tables.get(policy.name)
        if tables is None or len(tables) != len(policy.limits):
            tables = self._tables_for(policy)
        if len(tables) != 1:
            return None
        limit = policy.limits[0]
        emission, window = limit.emission_us, limit.window_us
        first = Decision(True, policy, 0, (window - emission) // emission, 0, emission)
        single = (policy, tables[0], emission * NANOS_PER_MICRO, window * NANOS_PER_MICRO, first)
        self._single[policy.name] = single
        return single

    def _check_all(self, key: str, policy: PolicySet, cost: int, now: int) -> Decision:
        # In microseconds, as `gcra` counts; the TATs it stores are whole microseconds, in nanoseconds.
        tables, now_us = self._tables[policy.name], now // NANOS_PER_MICRO
        outcomes = [
            gcra(None if (tat := table.get(key)) is None else tat // NANOS_PER_MICRO, now_us, limit, cost)
            for table, limit in zip(tables, policy.limits, strict=True)
        ]
        decision = decide(policy, outcomes)
        if decision.allowed:
            for table, outcome in zip(tables, outcomes, strict=True):
                self._store(table, key, outcome.tat * NANOS_PER_MICRO, now)
        return decision

    async def hit(self, key: str, policy: PolicySet, cost: int = 1) -> Decision:
        return self.check(key, policy, cost)

    async def peek(self, key: str, policy: PolicySet) -> Decision:
        # Off the hot path (asked before verifying an unknown credential): the general arithmetic, nothing stored.
        now_us = self._now() // NANOS_PER_MICRO
        tables = self._tables.get(policy.name)
        if tables is None or len(tables) != len(policy.limits):
            tables = [{} for _ in policy.limits]  # never checked under these limits: a full allowance
        outcomes = [
            gcra(None if (tat := table.get(key)) is None else tat // NANOS_PER_MICRO, now_us, limit)
            for table, limit in zip(tables, policy.limits, strict=True)
        ]
        return decide(policy, outcomes)

    async def close(self) -> None:
        self._tables.clear()
        self._single.clear()
        self._size = 0

    def _tables_for(self, policy: PolicySet) -> list[Table]:
        """The policy's tables, created on its first check (or again if a set of that name changed its limits)."""
        previous = self._tables.pop(policy.name, [])
        self._single.pop(policy.name, None)
        self._size -= sum(map(len, previous))
        tables: list[Table] = [{} for _ in policy.limits]
        self._tables[policy.name] = tables
        return tables

    def _store(self, table: Table, key: str, tat: int, now: int) -> None:
        if key not in table:
            if self._size >= self._max_keys:
                self._make_room(now)
            self._size += 1
        table[key] = tat

    def _all_tables(self) -> list[Table]:
        return list(chain.from_iterable(self._tables.values()))

    def _sweep_expired(self, now: int) -> None:  # now: in nanoseconds, as everything stored
        # In place: a caller may be holding one of these tables.
        for table in self._all_tables():
            expired = [key for key, tat in table.items() if tat <= now]
            for key in expired:
                del table[key]
        self._size = sum(map(len, self._all_tables()))
        self._next_sweep = now + SWEEP_INTERVAL_US * NANOS_PER_MICRO

    def _make_room(self, now: int) -> None:
        self._sweep_expired(now)
        excess = self._size - int(self._max_keys * (1 - EVICT_FRACTION))
        if excess <= 0:
            return
        entries = [(tat, key, table) for table in self._all_tables() for key, tat in table.items()]
        entries.sort(key=lambda entry: entry[0])
        for _, key, table in entries[:excess]:
            del table[key]
        self._size -= excess
