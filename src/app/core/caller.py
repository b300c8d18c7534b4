"""The caller of a request as the HTTP edge sees it: `Caller`, what the rate-limit gate and the idempotency guard
read, and `caller_of(scope)`, which gives every reader of one request the same one.

The implementation is the auth feature's (`app.features.auth.caller.RequestCaller`): it parses the credentials
once per request and verifies each at most once, whoever asks first. Core names only the view, since it cannot
import a feature; the app's context carries the factory (`AppContext.identify`).
"""

from typing import Protocol

from starlette.types import Scope

from app.core.context import CONTEXT_KEY, AppContext

__all__ = ["CALLER_KEY", "Caller", "caller_of"]

# Where a request's caller is kept, in `scope["state"]`, once something asked for it.
CALLER_KEY = "forge.caller"


class Caller(Protocol):
    def identity(self) -> str | None:
        """`user:<id>` for a valid bearer access token, `key:<id>` for a well-formed API key, else None.

        Database-free: what idempotency keys are scoped by. Whether the key is real is for authentication to say.
        """
        ...

    def limit_key(self) -> str:
        """The global rate limit's key: the user, an API key authentication verified, or else the address."""
        ...

    def address_key(self) -> str:
        """The client's address as a rate-limit key: behind trusted proxies resolved, IPv6 grouped by /64."""
        ...


def caller_of(scope: Scope) -> Caller:
    """The request's caller, made on first use and then kept with the request."""
    state = scope["state"]
    caller: Caller | None = state.get(CALLER_KEY)
    if caller is None:
        context: AppContext = state[CONTEXT_KEY]
        caller = state[CALLER_KEY] = context.identify(scope)
    return caller
