"""`RequestContextMiddleware`: the one pure-ASGI layer around every HTTP request.

It fuses what would otherwise be several stacked middlewares (each layer costs a function call per ASGI message):
request ids, security headers, the request body limit, the global rate limit, metrics, the access log, and the
last-resort 500 for a crash. Compression stays Starlette's `GZipMiddleware`, but it is only entered by requests
that accept gzip: it costs every request it sees a header parse and a wrapped `send`, even when it leaves the
body alone, and most API clients (and every probe) never ask for it.
Pure ASGI rather than `BaseHTTPMiddleware`, which is several times slower and breaks context variables.
"""

import logging
import os
import re
import time
from collections.abc import Awaitable, Mapping

import structlog
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.context import CONTEXT_KEY
from app.core.exceptions import ForgeError, PayloadTooLargeError
from app.core.logging import REQUEST_ID
from app.core.metrics import HttpMetrics
from app.core.operational import OPERATIONAL_PATHS
from app.core.problems import send_problem
from app.shared.caching import PRIVATE_NO_STORE
from app.shared.ratelimit import RateLimitGate, response_headers

__all__ = ["RequestContextMiddleware", "SecurityHeaders"]

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{8,128}")
_access_log = structlog.get_logger("app.access")
# Asked before building the access line: structlog would drop it below INFO too, but only after the call and
# its keyword arguments were paid for, on every request.
_access_log_level = logging.getLogger("app.access")
_error_log = structlog.get_logger("app.errors")
# The default for every response that sets no Cache-Control (all but the @edge_cached reads): user-specific
# answers and problem+json errors must never be stored by a browser or a shared cache.
_DEFAULT_CACHE_CONTROL = (b"cache-control", PRIVATE_NO_STORE)
_VARY_ACCEPT_ENCODING = (b"vary", b"Accept-Encoding")
_CONNECTION_CLOSE = (b"connection", b"close")

STRICT_CSP = b"default-src 'none'; frame-ancestors 'none'"

type RawHeaders = list[tuple[bytes, bytes]]


class SecurityHeaders:
    """The response headers every answer carries: a strict CSP, except on the docs pages, which get their own."""

    def __init__(self, *, hsts: bool, docs_policies: Mapping[str, bytes]) -> None:
        self.always: RawHeaders = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-resource-policy", b"same-origin"),
        ]
        if hsts:
            self.always.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
        self.strict: RawHeaders = [*self.always, (b"content-security-policy", STRICT_CSP)]
        # The docs pages run scripts: each has a policy naming its own assets and inline script (app.shared.api_docs).
        self.docs: dict[str, RawHeaders] = {
            path: [*self.always, (b"content-security-policy", policy)] for path, policy in docs_policies.items()
        }

    def for_path(self, path: str) -> RawHeaders:
        return self.docs.get(path, self.strict)


class _RequestHeaders:
    """The request headers this middleware reads, found in one pass over the list."""

    __slots__ = ("accepts_gzip", "content_length", "request_id")

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.request_id: bytes | None = None
        self.content_length: bytes | None = None
        self.accepts_gzip = False
        for name, value in headers:
            if name == b"x-request-id":
                self.request_id = value
            elif name == b"content-length":
                self.content_length = value
            elif name == b"accept-encoding":
                self.accepts_gzip = self.accepts_gzip or b"gzip" in value  # what GZipMiddleware itself tests


def _request_id(incoming: bytes | None) -> str:
    if incoming is not None:
        candidate = incoming.decode("latin-1")
        if _VALID_REQUEST_ID.fullmatch(candidate):
            return candidate
    return os.urandom(16).hex()  # as unique as uuid4().hex, at a fraction of the cost


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        security_headers: SecurityHeaders,
        rate_limit: RateLimitGate | None = None,
        metrics: HttpMetrics | None = None,
        access_log: bool = True,
        gzip_minimum_size: int | None = None,
    ) -> None:
        """`gzip_minimum_size`: compress responses of at least that many bytes for clients that accept gzip."""
        self.app = app
        self.gzip_app = GZipMiddleware(app, minimum_size=gzip_minimum_size) if gzip_minimum_size is not None else None
        self.rate_limit = rate_limit
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.security_headers = security_headers
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await _RequestCycle(self, scope, receive, send).run()


class _RequestCycle:
    """The state of one request: created per request so that the middleware itself stays stateless."""

    def __init__(self, owner: RequestContextMiddleware, scope: Scope, receive: Receive, send: Send) -> None:
        self.owner = owner
        self.scope = scope
        self.receive_downstream = receive
        self.send_downstream = send
        self.headers = _RequestHeaders(scope["headers"])
        self.request_id = _request_id(self.headers.request_id)
        self.status = 0
        self.response_started = False
        self.rejected = False  # a 413 went out while the app was reading the body: drop the app's own answer
        self.body_bytes = 0
        self.extra_headers = [
            (REQUEST_ID_HEADER.encode(), self.request_id.encode()),
            *owner.security_headers.for_path(scope["path"]),
        ]

    async def run(self) -> None:
        scope = self.scope
        scope.setdefault("state", {})["request_id"] = self.request_id
        started = time.perf_counter()
        token = REQUEST_ID.set(self.request_id)
        metrics = self.owner.metrics
        if metrics is not None:
            metrics.started()
        try:
            await self._dispatch()
        finally:
            if metrics is not None:
                # No response started: the client went away mid-request; counted as the 499 nginx would log.
                metrics.finished(scope, self.status or 499, time.perf_counter() - started)
            if self.owner.access_log and _access_log_level.isEnabledFor(logging.INFO):
                _access_log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=self.status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    client=scope["client"][0] if scope.get("client") else None,
                )
            REQUEST_ID.reset(token)

    async def _dispatch(self) -> None:
        scope = self.scope
        try:
            if self._declared_length_too_large():
                await send_problem(scope, self.send, self._too_large())
            elif (
                (gate := self.owner.rate_limit) is not None
                and (limiter := scope["state"][CONTEXT_KEY].rate_limiter) is not None
                and scope["path"] not in OPERATIONAL_PATHS
            ):
                # Inline rather than a helper coroutine: one coroutine less per request, for the memory backend.
                if limiter.synchronous:
                    refusal = gate.admit_now(scope, limiter)
                else:
                    refusal = await gate.admit(scope, limiter)
                await (self._app(scope) if refusal is None else send_problem(scope, self.send, refusal))
            else:
                await self._app(scope)
        except Exception:
            if self.rejected:
                # The app failed to read the body this middleware cut off with its 413 (a route that reads it
                # by hand sees ClientDisconnect): expected, already answered, and logged by the access line.
                return
            _error_log.exception("unhandled_error", method=scope["method"], path=scope["path"])
            if self.response_started:
                raise
            await send_problem(scope, self.send, ForgeError("An unexpected error occurred; quote the request id."))

    def _app(self, scope: Scope) -> Awaitable[None]:
        gzip_app = self.owner.gzip_app
        app = gzip_app if gzip_app is not None and self.headers.accepts_gzip else self.owner.app
        return app(scope, self.receive, self.send)

    def _declared_length_too_large(self) -> bool:
        declared = self.headers.content_length
        if declared is None:
            return False
        try:
            return int(declared) > self.owner.max_body_bytes
        except ValueError:
            return False

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(f"The request body exceeds {self.owner.max_body_bytes} bytes.")

    async def receive(self) -> Message:
        message = await self.receive_downstream()
        if message["type"] == "http.request" and not self.rejected:
            self.body_bytes += len(message.get("body", b""))
            if self.body_bytes > self.owner.max_body_bytes:
                # A streamed body grew past the limit: answer 413 now and tell the app the client has gone. The
                # rest of the body is never read, so the connection cannot carry another request: say so.
                await send_problem(self.scope, self.send, self._too_large(), extra_headers=[_CONNECTION_CLOSE])
                self.rejected = True
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self.rejected:
            return
        if message["type"] == "http.response.start":
            self.response_started = True
            self.status = message["status"]
            headers: RawHeaders = list(message.get("headers", ()))
            has_cache_control = varies_by_encoding = False
            for key, value in headers:  # header names are lower-case in ASGI
                if key == b"cache-control":
                    has_cache_control = True
                elif key == b"vary" and b"accept-encoding" in value.lower():
                    varies_by_encoding = True
            # Added after the scan: none of these is a Cache-Control or a Vary, and the scan runs on every response.
            headers.extend(self.extra_headers)
            if self.owner.rate_limit is not None:
                headers.extend(response_headers(self.scope["state"]))
            if not has_cache_control:
                headers.append(_DEFAULT_CACHE_CONTROL)
            # With compression on, any response could have been encoded differently for another client, so every
            # one says so; cheaper than holding each response back to see whether it is large enough to compress
            # (a second Vary line is a list item of the same field, RFC 9110 section 5.3).
            if not varies_by_encoding and self.owner.gzip_app is not None:
                headers.append(_VARY_ACCEPT_ENCODING)
            message["headers"] = headers
        await self.send_downstream(message)
