"""The application context: every long-lived object of a running app, in one typed value built by its lifespan.

The lifespan (`app.main`) builds one `AppContext` and yields it as the ASGI lifespan state, `{CONTEXT_KEY: context}`.
The server keeps that mapping and gives every request a shallow copy of it in `scope["state"]` (uvicorn and granian
copy it per request whether or not it holds anything, so carrying the context costs a request nothing more). Readers
take it from there: dependencies through `Context` (or `context_of(request)`), pure-ASGI middleware from
`scope["state"][CONTEXT_KEY]`. Nothing is stored on `app.state` and no module holds the objects, so two apps in one
process (the test suite, a Lambda container re-initialised) never see each other's.

Core cannot name the higher layers' types, so their long-lived objects (the rate-limit gate of `shared`, the dynamic
endpoints' registry of a feature) travel as `components`, looked up by their type: `context.component(EndpointRuntime)`.

An in-process caller that enters the lifespan itself instead of through a server (the Lambda handler, tests) serves
the app through `WithLifespanState`, which does what the server does with the state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

if TYPE_CHECKING:
    import httpx
    from redis.asyncio import Redis
    from starlette.types import ASGIApp, Receive, Scope, Send

    from app.config import Settings
    from app.core.audit import AuditTrail
    from app.core.caller import Caller
    from app.core.database import Database
    from app.core.events import Events
    from app.core.mail import Mailer
    from app.core.metrics import Metrics
    from app.core.opaque_tokens import SecretHasher
    from app.core.ratelimit import RateLimiter
    from app.core.response_cache import ResponseCache
    from app.core.security import PasswordHasher, TokenService
    from app.core.tracing import Telemetry, Tracing

__all__ = ["CONTEXT_KEY", "AppContext", "Context", "WithLifespanState", "context_of", "get_context"]

# The lifespan state's one key. Namespaced: route code also keeps per-request facts in `scope["state"]`.
CONTEXT_KEY = "forge.context"


@dataclass(frozen=True, slots=True, kw_only=True)
class AppContext:
    """What a running app has: built once by the lifespan, the same object for every request until shutdown."""

    settings: Settings
    docs_url: str | None  # the docs' address for clients (FastAPI's own docs_url stays None: see install_docs)
    telemetry: Telemetry | None
    tracing: Tracing
    password_hasher: PasswordHasher
    token_service: TokenService
    secret_hasher: SecretHasher  # HMAC with FORGE_API_KEY_PEPPER: the stored digests of API keys, refresh tokens
    identify: Callable[[Scope], Caller]  # makes a request's caller (the auth feature's); read it with caller_of
    metrics: Metrics | None
    database: Database
    redis: Redis | None
    rate_limiter: RateLimiter | None
    http_client: httpx.AsyncClient
    events: Events  # records domain events with the writes they describe (docs/events.md)
    mailer: Mailer  # composes mail and queues it with the request's writes (docs/mail.md)
    audit: AuditTrail  # where admin actions are recorded, in the action's transaction (the audit feature's AuditLog)
    response_cache: ResponseCache | None = None  # public reads kept in memory; None when FORGE_CACHE_ENABLED=false
    components: Mapping[type, object] = field(default_factory=dict)

    def component[T](self, kind: type[T]) -> T:
        """The higher layer's object of type `kind` that the app registered (KeyError when it registered none)."""
        found = self.components[kind]
        if not isinstance(found, kind):  # only a wrongly built mapping gets here
            msg = f"component {kind.__name__} is a {type(found).__name__}"
            raise TypeError(msg)
        return found


def context_of(request: Request) -> AppContext:
    """The app's context, as the lifespan state gave it to this request."""
    context: AppContext = request.scope["state"][CONTEXT_KEY]
    return context


async def get_context(request: Request) -> AppContext:
    """`context_of` as a dependency. A coroutine, as is every dependency of ours: FastAPI sends a plain function to
    its thread pool, and that hop cost more than a small request's whole handler (`tests/test_dependencies.py`)."""
    return context_of(request)


Context = Annotated[AppContext, Depends(get_context)]


class WithLifespanState:
    """The app served as a server serves it after its lifespan started: each request gets a copy of the state."""

    def __init__(self, app: ASGIApp, state: Mapping[str, Any]) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            scope["state"] = dict(self.state)
        await self.app(scope, receive, send)
