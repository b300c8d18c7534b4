"""What authentication tells the rate limiter: which API keys are real, and which clients keep failing.

Anyone can mint well-formed API keys and send tokens that do not verify; each such attempt costs a database
lookup (keys) or at least a 401 (tokens), and must neither buy its sender a fresh rate-limit budget nor go on
forever. So every verification of a presented credential runs inside `authentication_attempt`:
- a failure (`AuthenticationError`) spends one unit of the client address's `auth_failures` budget; once it is
  spent the answer is 429 instead of 401;
- an API key the process has not seen verified is checked against that budget *before* its database lookup;
- a verified key is recorded with the rate-limit gate, which from then on gives the key a budget of its own.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request

from app.core.api_keys import rate_limit_id
from app.core.context import context_of
from app.core.exceptions import AuthenticationError
from app.shared.ratelimit import RateLimitGate, client_key, enforce, refuse_if_spent

__all__ = ["AUTH_FAILURES", "authentication_attempt"]

AUTH_FAILURES = "auth_failures"


@asynccontextmanager
async def authentication_attempt(request: Request, *, api_key: str | None = None) -> AsyncIterator[None]:
    """Around the verification of one presented credential: an API key (`api_key`) or a bearer token (None).

    Raises `RateLimitedError` (429) before the block when an unverified key's sender has no failures left, and
    instead of the block's `AuthenticationError` when that failure used the last one up.
    """
    context = context_of(request)
    if context.rate_limiter is None:
        yield
        return
    gate = context.component(RateLimitGate)
    key_id = None if api_key is None else rate_limit_id(api_key.strip())
    # A bearer token is not checked first: a bad one fails on its signature, before the database is asked.
    if key_id is not None and key_id not in gate.verified_keys:
        await refuse_if_spent(request, AUTH_FAILURES, client_key(request))
    try:
        yield
    except AuthenticationError:
        if key_id is not None:
            gate.forget_key(key_id)
        await enforce(request, AUTH_FAILURES, client_key(request))
        raise
    if key_id is not None:
        gate.verify_key(key_id)
