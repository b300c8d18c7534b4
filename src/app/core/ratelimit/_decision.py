from typing import NamedTuple, Protocol

from app.core.ratelimit._gcra import Outcome
from app.core.ratelimit._policy import MICROS, Limit, PolicySet

__all__ = ["Backend", "BackendUnavailableError", "Decision", "decide"]


class BackendUnavailableError(Exception):
    """The rate-limit store did not answer (in time); the limiter decides whether to fail open or closed."""


class Decision(NamedTuple):
    """The verdict for one request under one policy set, reported for its most restrictive limit.

    A NamedTuple rather than a frozen dataclass: one is built per request, and tuples are several times cheaper.
    """

    allowed: bool
    policy: PolicySet
    limit_index: int  # which of the set's limits this reports on
    remaining: int
    retry_after_us: int
    reset_after_us: int

    @property
    def limit(self) -> Limit:
        return self.policy.limits[self.limit_index]

    @property
    def retry_after_seconds(self) -> int:
        """Whole seconds, rounded up, so that waiting exactly this long is enough."""
        return -(-self.retry_after_us // MICROS)

    @property
    def reset_after_seconds(self) -> int:
        return -(-self.reset_after_us // MICROS)


def decide(policy: PolicySet, outcomes: list[Outcome]) -> Decision:
    """Combine the outcomes of a set's limits: refused if any refuses; report the tightest limit."""
    if all(o.allowed for o in outcomes):
        index = min(range(len(outcomes)), key=lambda i: outcomes[i].remaining)
    else:
        index = max(range(len(outcomes)), key=lambda i: outcomes[i].retry_after_us)
    chosen = outcomes[index]
    return Decision(
        allowed=chosen.allowed and all(o.allowed for o in outcomes),
        policy=policy,
        limit_index=index,
        remaining=chosen.remaining,
        retry_after_us=chosen.retry_after_us,
        reset_after_us=chosen.reset_after_us,
    )


class Backend(Protocol):
    async def hit(self, key: str, policy: PolicySet, cost: int = 1) -> Decision: ...

    async def peek(self, key: str, policy: PolicySet) -> Decision:
        """The verdict a request would get now, counting nothing."""
        ...

    async def close(self) -> None: ...
