"""`RateLimiter`: the policies by name, a backend, and what to do when the backend fails."""

from collections.abc import Awaitable, Callable, Mapping

import structlog

from app.core.exceptions import ServiceUnavailableError
from app.core.ratelimit._decision import Backend, BackendUnavailableError, Decision
from app.core.ratelimit._memory import MemoryBackend
from app.core.ratelimit._policy import PolicySet

__all__ = ["RateLimiter"]

_log = structlog.get_logger("app.ratelimit")


class RateLimiter:
    def __init__(self, backend: Backend, policies: Mapping[str, PolicySet], *, fail_open: bool) -> None:
        self.backend = backend
        self.policies = dict(policies)
        self.fail_open = fail_open
        self.backend_failures = 0
        self.rejections_by_policy: dict[str, int] = dict.fromkeys(self.policies, 0)
        # The memory backend answers synchronously: the hot path calls its check directly (`check_now`, then
        # `count_refusal`), which saves a coroutine and a frame per request.
        self.check_now: Callable[[str, PolicySet, int], Decision] | None = (
            backend.check if isinstance(backend, MemoryBackend) else None
        )
        self.synchronous = self.check_now is not None

    def hit_now(self, key: str, policy_name: str, cost: int = 1) -> Decision:
        """`hit` without a coroutine, for a backend that answers in-process (`synchronous`); it cannot fail."""
        if self.check_now is None:
            msg = "this rate limiter's backend must be awaited: use hit()"
            raise TypeError(msg)
        decision = self.check_now(key, self.policies[policy_name], cost)
        if not decision.allowed:
            self.count_refusal(policy_name)
        return decision

    def count_refusal(self, policy_name: str) -> None:
        self.rejections_by_policy[policy_name] += 1

    async def hit(self, key: str, policy_name: str, cost: int = 1) -> Decision | None:
        """Count a request; None when the backend failed and the limiter fails open (the request passes).

        Raises `ServiceUnavailableError` when the backend failed and the limiter fails closed.
        """
        if self.synchronous:
            return self.hit_now(key, policy_name, cost)
        return await self._decided(self.backend.hit(key, self.policies[policy_name], cost), policy_name)

    async def peek(self, key: str, policy_name: str) -> Decision | None:
        """Would a request under `policy_name` pass now? Nothing is counted, but a refusal is, as a rejection.

        For budgets spent only afterwards (failed authentications): asked before the costly work, so that a client
        whose budget is used up is refused before it is done. Fails as `hit` does.
        """
        return await self._decided(self.backend.peek(key, self.policies[policy_name]), policy_name)

    async def _decided(self, check: Awaitable[Decision], policy_name: str) -> Decision | None:
        """The backend's verdict, its refusal counted; None when the backend failed and the limiter fails open."""
        try:
            decision = await check
        except BackendUnavailableError as exc:
            self._unavailable(exc)
            return None
        if not decision.allowed:
            self.count_refusal(policy_name)
        return decision

    def _unavailable(self, exc: BackendUnavailableError) -> None:
        """Count and log a backend failure; raise `ServiceUnavailableError` unless failing open."""
        self.backend_failures += 1
        _log.warning("rate_limit_backend_unavailable", error=str(exc), fail_open=self.fail_open)
        if self.fail_open:
            return
        msg = "Rate limiting is unavailable; try again shortly."
        raise ServiceUnavailableError(msg, retry_after_seconds=1) from exc

    async def close(self) -> None:
        await self.backend.close()
