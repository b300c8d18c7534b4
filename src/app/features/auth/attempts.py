"""What authentication tells the rate limiter: which API keys are real, and which clients keep failing.

Anyone can mint well-formed API keys and send tokens that do not verify; each such attempt costs a database
lookup (keys) or at least a 401 (tokens), and must neither buy its sender a fresh rate-limit budget nor go on
forever. So every verification of a presented credential runs inside `authentication_attempt`:
- a failure (`AuthenticationError`) spends one unit of the client address's `auth_failures` budget; once it is
  spent the answer is 429 instead of 401;
- an API key the process has not seen verified is checked against that budget *before* its database lookup;
- a verified key is recorded (`VerifiedKeys`), and from then on the rate-limit gate gives it a budget of its own.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import Request

from app.core.context import context_of
from app.core.exceptions import AuthenticationError, RateLimitedError
from app.features.auth.caller import request_caller
from app.shared.ratelimit import enforce, refuse_if_spent

__all__ = ["AUTH_FAILURES", "authentication_attempt"]

AUTH_FAILURES = "auth_failures"


@asynccontextmanager
async def authentication_attempt(request: Request, *, api_key: bool = False) -> AsyncIterator[None]:
    """Around the verification of the request's API key (`api_key`) or else its bearer token.

    Raises `RateLimitedError` (429) before the block when an unverified key's sender has no failures left, and
    instead of the block's `AuthenticationError` when that failure used the last one up.
    """
    if context_of(request).rate_limiter is None:
        yield
        return
    caller = request_caller(request)
    verified = caller.identification.verified_keys
    key_id = caller.key_id() if api_key else None
    # A bearer token is not checked first: a bad one fails on its signature, before the database is asked. Nor is
    # a malformed key (no id): it is refused on its format, before the database too.
    if key_id is not None and key_id not in verified:
        await refuse_if_spent(request, AUTH_FAILURES, caller.address_key())
    try:
        yield
    except AuthenticationError as error:
        if key_id is not None:
            verified.discard(key_id)
        if error.keeps_writes:  # its writes are its point (a reuse revokes a session): counted, never replaced
            with suppress(RateLimitedError):
                await enforce(request, AUTH_FAILURES, caller.address_key())
            raise
        await enforce(request, AUTH_FAILURES, caller.address_key())
        raise
    if key_id is not None:
        verified.add(key_id)
