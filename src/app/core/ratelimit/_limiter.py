"""`RateLimiter`: the policies by name, a backend, and what to do when the backend fails."""

from collections.abc import Awaitable, Mapping

import structlog

from app.core.exceptions import ServiceUnavailableError
from app.core.ratelimit._decision import Backend, BackendUnavailableError, Decision
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

    def count_refusal(self, policy_name: str) -> None:
        self.rejections_by_policy[policy_name] += 1

    async def hit(self, key: str, policy_name: str, cost: int = 1) -> Decision | None:
        """Count a request; None when the backend failed and the limiter fails open (the request passes).

        Raises `ServiceUnavailableError` when the backend failed and the limiter fails closed.
        """
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
