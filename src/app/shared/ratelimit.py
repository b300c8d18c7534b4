"""Rate limiting at the HTTP edge: the global per-client limit (a unit of the request pipeline) and per-route limits
(`Annotated` dependencies), both reporting through the same response headers.

Headers on every response of a limited request (IETF httpapi RateLimit draft, plus the common X- trio):
    RateLimit-Policy: "default";q=100;w=60
    RateLimit: "default";r=42;t=17
    X-RateLimit-Limit: 100, X-RateLimit-Remaining: 42, X-RateLimit-Reset: 17   (seconds)
"""

import hashlib
from collections.abc import Sequence
from typing import Any

from fastapi import Request

from app.core import tracing
from app.core.caller import caller_of
from app.core.context import CONTEXT_KEY, context_of
from app.core.exceptions import ForgeError, RateLimitedError, ServiceUnavailableError
from app.core.operational import OPERATIONAL_PATHS
from app.core.ratelimit import MICROS, Decision
from app.shared.pipeline import RawHeaders, RequestCycle, RequestUnit

__all__ = [
    "RateLimit",
    "RateLimitGate",
    "account_key",
    "client_key",
    "enforce",
    "rate_limit_headers",
    "refuse_if_spent",
    "response_headers",
]

_STATE_DECISIONS = "rate_limit_decisions"


def _state(decision: Decision, remaining: bytes, reset: bytes) -> bytes:
    return decision.policy.quoted_labels[decision.limit_index] + b";r=" + remaining + b";t=" + reset


def _seconds(micros: int) -> bytes:
    return b"%d" % -(-micros // MICROS)  # whole seconds, rounded up


def rate_limit_headers(decisions: list[Decision]) -> Sequence[tuple[bytes, bytes]]:
    if len(decisions) == 1:
        _, policy, index, left, _, reset_us = decisions[0]
        return policy.fields(index, left, reset_us)
    policies = b", ".join(d.policy.header for d in decisions)
    states = b", ".join(_state(d, b"%d" % d.remaining, _seconds(d.reset_after_us)) for d in decisions)
    tightest = min(decisions, key=lambda d: (d.allowed, d.remaining))
    remaining = b"%d" % tightest.remaining
    reset = _seconds(tightest.reset_after_us)
    return [
        (b"ratelimit-policy", policies),
        (b"ratelimit", states),
        tightest.policy.limit_fields[tightest.limit_index],
        (b"x-ratelimit-remaining", remaining),
        (b"x-ratelimit-reset", reset),
    ]


class RateLimitGate(RequestUnit):
    """The global limit, keyed by the request's caller (`Caller.limit_key`: the authenticated user, an API key
    authentication verified, or else the client's address); probes are exempt. A unit of the request pipeline:
    it admits each request (429 beyond the limit, 503 when the backend is down and the limiter fails closed) and
    adds the rate-limit headers of every decision the request met, the per-route limits' included.

    The limiter itself is the app's (`AppContext.rate_limiter`, opened by the lifespan), found in each request's
    scope, so the gate, built with the app, never waits for the lifespan to complete it.
    """

    def __init__(self, *, tracing: bool, exempt_paths: frozenset[str] = frozenset()) -> None:
        """`tracing`: whether the app traces (then each decision is recorded on the request's span); `exempt_paths`:
        paths besides the probes that the gate lets through, whose requests are counted otherwise (MCP's)."""
        self._tracing = tracing
        self._exempt = OPERATIONAL_PATHS | exempt_paths

    async def admit(self, cycle: RequestCycle) -> ForgeError | None:
        scope = cycle.scope
        limiter = scope["state"][CONTEXT_KEY].rate_limiter
        if limiter is None or scope["path"] in self._exempt:
            return None
        try:
            decision = await limiter.hit(caller_of(scope).limit_key(), "default")
        except ServiceUnavailableError as unavailable:  # the backend is down and the limiter fails closed
            return unavailable
        if decision is None:
            return None
        scope["state"][_STATE_DECISIONS] = [decision]
        if self._tracing:
            _trace(decision)
        return None if decision.allowed else _too_many_requests(decision)

    def response_headers(self, cycle: RequestCycle, headers: RawHeaders) -> None:
        headers.extend(response_headers(cycle.scope["state"]))


def response_headers(state: dict[str, Any]) -> Sequence[tuple[bytes, bytes]]:
    """The rate-limit headers for the decisions (global and per-route) in a request's `scope["state"]`, or none."""
    decisions: list[Decision] | None = state.get(_STATE_DECISIONS)
    if not decisions:
        return ()
    # Runs on every limited response. The one decision of the common case is unpacked as the tuple it is (its
    # properties cost a call each); a client with its full allowance gets fields prebuilt on the PolicySet.
    if len(decisions) == 1:
        allowed, policy, index, _, _, reset_us = decisions[0]
        if allowed and reset_us == policy.full_allowance_reset_us[index]:
            return policy.full_allowance_fields[index]
    return rate_limit_headers(decisions)


def _trace(decision: Decision) -> None:
    tracing.add_event(
        "rate_limit",
        {
            "rate_limit.policy": decision.policy.name,
            "rate_limit.allowed": decision.allowed,
            "rate_limit.remaining": decision.remaining,
            "rate_limit.reset_after": decision.reset_after_seconds,
        },
    )


def _too_many_requests(decision: Decision) -> RateLimitedError:
    limit = decision.limit
    detail = (
        f"Rate limit {limit.limit} per {limit.window} s ({decision.policy.name}) exceeded; "
        f"retry in {decision.retry_after_seconds} s."
    )
    return RateLimitedError(
        detail, retry_after_seconds=decision.retry_after_seconds, retry_after=decision.retry_after_seconds
    )


def client_key(request: Request) -> str:
    """The client-address key (proxies resolved as the app trusts them, IPv6 grouped by /64)."""
    return caller_of(request.scope).address_key()


async def enforce(request: Request, policy_name: str, key: str) -> None:
    """Count this request against `policy_name` for `key`; raise `RateLimitedError` (429) when over the limit."""
    context = context_of(request)
    limiter = context.rate_limiter
    if limiter is None:
        return
    decision = await limiter.hit(key, policy_name)
    if decision is None:
        return
    if context.tracing.active:
        _trace(decision)
    request.scope.setdefault("state", {}).setdefault(_STATE_DECISIONS, []).append(decision)
    if not decision.allowed:
        raise _too_many_requests(decision)


async def refuse_if_spent(request: Request, policy_name: str, key: str) -> None:
    """Raise `RateLimitedError` (429) if `key` has no budget left under `policy_name`; count nothing.

    The check for budgets that only failures spend (`enforce` spends them): run before the work they protect.
    """
    limiter = context_of(request).rate_limiter
    if limiter is None:
        return
    decision = await limiter.peek(key, policy_name)
    if decision is None or decision.allowed:
        return
    request.scope.setdefault("state", {}).setdefault(_STATE_DECISIONS, []).append(decision)
    raise _too_many_requests(decision)


class RateLimit:
    """A per-route limit, keyed by client address: `dependencies=[Depends(RateLimit("register"))]`."""

    def __init__(self, policy_name: str) -> None:
        self.policy_name = policy_name

    async def __call__(self, request: Request) -> None:
        await enforce(request, self.policy_name, client_key(request))


def account_key(identifier: str) -> str:
    """A bounded key for an account named by the client (any length, any characters): a short digest."""
    digest = hashlib.blake2b(identifier.strip().lower().encode(), digest_size=12).hexdigest()
    return f"account:{digest}"
