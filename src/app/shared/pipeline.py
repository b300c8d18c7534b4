"""`RequestPipeline`: the one pure-ASGI layer around every HTTP request, running the request's units in order.

Each concern of the request path is a small unit of its own (request id, metrics, access log, body limit, security
headers, default caching, the rate-limit gate, compression's Vary), listed in order in the app factory. A unit
implements the hooks it needs, and the pipeline calls only those:

1. `enter(cycle)`: every unit, in order, before anything else (the request id, the metrics' start);
2. `admit(cycle)`: may refuse the request with a `ForgeError`, answered as problem+json instead of the app (the
   declared body length, the rate limit); the first refusal wins and later units are not asked;
3. `received(cycle, message)`: each body chunk the app reads (`cycle.body_bytes_read` counts them); a refusal
   then (a streamed body past the limit) answers at once, closes the connection, and the app sees the client gone;
4. `response_headers(cycle, headers)`: the response's headers, to add to, before they are sent;
5. `leave(cycle)`: every unit, in reverse order, when the request is over, whatever happened (the access log).

One layer running hooks rather than a stack of middlewares, one per concern: each layer of a stack costs every
request a coroutine and a wrapped `send`, and the stack's whole budget is a fifth of a bare endpoint's CPU
(docs/performance.md). The pipeline is also the last resort for a crash: a 500 problem that quotes the request id.
Pure ASGI rather than `BaseHTTPMiddleware`, which is several times slower and breaks context variables.
"""

import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import Token

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.exceptions import ForgeError
from app.core.problems import send_problem

__all__ = ["RawHeaders", "RequestCycle", "RequestPipeline", "RequestUnit"]

type RawHeaders = list[tuple[bytes, bytes]]

_CONNECTION_CLOSE = (b"connection", b"close")
_error_log = structlog.get_logger("app.errors")


class RequestCycle:
    """One request's state, shared by the units: made per request, so that the pipeline and its units stay
    stateless."""

    __slots__ = (
        "_pipeline",
        "answered",
        "body_bytes_read",
        "receive_downstream",
        "request_id",
        "request_id_token",
        "response_started",
        "scope",
        "send_downstream",
        "started_at",
        "status",
    )

    def __init__(self, pipeline: "RequestPipeline", scope: Scope, receive: Receive, send: Send) -> None:
        self._pipeline = pipeline
        self.scope = scope
        self.receive_downstream = receive
        self.send_downstream = send
        self.started_at = time.perf_counter()
        self.status = 0  # 0 until the response starts
        self.response_started = False
        self.answered = False  # a unit refused the request while the app was reading it: drop the app's answer
        self.body_bytes_read = 0
        self.request_id = ""  # set by the RequestId unit, which enters first
        self.request_id_token: Token[str | None] | None = None

    async def receive(self) -> Message:
        message = await self.receive_downstream()
        if message["type"] == "http.request" and not self.answered:
            self.body_bytes_read += len(message.get("body", b""))
            for received in self._pipeline.received_hooks:
                refusal = received(self, message)
                if refusal is not None:
                    # The rest of the body is never read, so the connection cannot carry another request: say so.
                    await send_problem(self.scope, self.send, refusal, extra_headers=[_CONNECTION_CLOSE])
                    self.answered = True
                    return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self.response_started = True
            self.status = message["status"]
            headers: RawHeaders = list(message.get("headers", ()))
            for add_headers in self._pipeline.response_header_hooks:
                add_headers(self, headers)
            message["headers"] = headers
        await self.send_downstream(message)


class RequestUnit:
    """One concern of the request path. Override the hooks the concern needs (the module docstring says when each
    runs); the pipeline calls only those."""

    def enter(self, cycle: RequestCycle) -> None:
        """Before anything else; `leave` is then always called."""

    async def admit(self, cycle: RequestCycle) -> ForgeError | None:  # noqa: ARG002 - a hook to override
        """The error to answer instead of the app, or None to let the request through."""
        return None

    def received(self, cycle: RequestCycle, message: Message) -> ForgeError | None:  # noqa: ARG002 - a hook
        """A body chunk the app is about to read; the error to answer with at once, or None."""
        return None

    def response_headers(self, cycle: RequestCycle, headers: RawHeaders) -> None:
        """Add to the response's headers (names lower-case, as ASGI has them) before they are sent."""

    def leave(self, cycle: RequestCycle) -> None:
        """When the request is over, answered or not."""


def _overridden[Hook: Callable[..., object]](units: Sequence[RequestUnit], name: str) -> tuple[Hook, ...]:
    default = getattr(RequestUnit, name)
    return tuple(getattr(unit, name) for unit in units if getattr(type(unit), name) is not default)


class RequestPipeline:
    def __init__(self, app: ASGIApp, *, units: Sequence[RequestUnit]) -> None:
        self.app = app
        self.units = tuple(units)
        self.enter_hooks: tuple[Callable[[RequestCycle], None], ...] = _overridden(units, "enter")
        self.admit_hooks: tuple[Callable[[RequestCycle], Awaitable[ForgeError | None]], ...] = _overridden(
            units, "admit"
        )
        self.received_hooks: tuple[Callable[[RequestCycle, Message], ForgeError | None], ...] = _overridden(
            units, "received"
        )
        self.response_header_hooks: tuple[Callable[[RequestCycle, RawHeaders], None], ...] = _overridden(
            units, "response_headers"
        )
        self.leave_hooks: tuple[Callable[[RequestCycle], None], ...] = _overridden(units[::-1], "leave")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cycle = RequestCycle(self, scope, receive, send)
        for enter in self.enter_hooks:
            enter(cycle)
        # One coroutine for the whole request (a helper coroutine would cost every request another frame).
        try:
            for admit in self.admit_hooks:
                refusal = await admit(cycle)
                if refusal is not None:
                    await send_problem(scope, cycle.send, refusal)
                    return
            await self.app(scope, cycle.receive if self.received_hooks else receive, cycle.send)
        except Exception:
            if cycle.answered:
                # The app failed to read the body a unit cut off with its answer (a route that reads it by hand
                # sees ClientDisconnect): expected, already answered, and logged by the access line.
                return
            _error_log.exception("unhandled_error", method=scope["method"], path=scope["path"])
            if cycle.response_started:
                raise
            await send_problem(scope, cycle.send, ForgeError("An unexpected error occurred; quote the request id."))
        finally:
            for leave in self.leave_hooks:
                leave(cycle)
