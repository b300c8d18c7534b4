"""AWS Lambda entry point: `app.lambda_handler.handler`, behind API Gateway (REST API v1 or HTTP API v2) or an ALB.

Mangum turns each event into an ASGI request. Its `lifespan="auto"` would run the app's start-up and shutdown
around every invocation: a new engine, a schema check and new connections per request. Instead, `LambdaHandler`
enters the app's lifespan once per container, at the first invocation, on an event loop it keeps for the
container's life, and calls Mangum with `lifespan="off"` on that same loop. Connections opened during start-up
belong to that loop (asyncpg and aiosqlite connections cannot move between loops), so every invocation must run on
it: Mangum takes `asyncio.get_event_loop()`, which is why the loop is made current before each call. As a server
would, the handler gives each request a copy of the lifespan's state (the app's context: app/core/context.py).

Start-up waits for the first invocation rather than module import: a failed start (a database not yet reachable)
is retried by the next invocation instead of failing the container's init, and no connection is made during init
(which SnapStart would snapshot). Settings come from the environment, like `app.main`'s; see docs/deployment.md.
"""

import asyncio
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, cast

from fastapi import FastAPI
from mangum import Mangum
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES
from mangum.types import LambdaContext, LambdaEvent

from app.core.context import CONTEXT_KEY, AppContext, WithLifespanState
from app.main import app as _app

__all__ = ["TEXT_MIME_TYPES", "LambdaHandler", "handler"]

# Bodies of these types go back as text; others are base64 (isBase64Encoded). Problem details are JSON too: without
# this, a REST API without binary media types would hand clients the base64 text of every error.
TEXT_MIME_TYPES = [*DEFAULT_TEXT_MIME_TYPES, "application/problem+json"]


class LambdaHandler:
    """A Lambda handler that starts `app` once per container and serves every invocation on one event loop."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._lifespan: AbstractAsyncContextManager[Any] | None = None
        self._adapter: Mangum | None = None
        self.context: AppContext | None = None  # the started app's, until `close`

    @property
    def started(self) -> bool:
        return self._adapter is not None

    def __call__(self, event: LambdaEvent, context: LambdaContext) -> dict[str, Any]:
        asyncio.set_event_loop(self.loop)  # Mangum runs the request on asyncio.get_event_loop()
        adapter = self._adapter or self._start()
        try:
            return adapter(event, context)
        finally:
            self._flush_spans()

    def _start(self) -> Mangum:
        app = self.app
        # app.main's lifespan yields its state (Starlette types a lifespan as either kind).
        lifespan = cast("AbstractAsyncContextManager[Mapping[str, Any]]", app.router.lifespan_context(app))
        # Raises (and stays unstarted) when start-up fails.
        state: Mapping[str, Any] = self.loop.run_until_complete(lifespan.__aenter__())
        self._lifespan = lifespan
        self.context = state[CONTEXT_KEY]
        self._adapter = Mangum(WithLifespanState(app, state), lifespan="off", text_mime_types=TEXT_MIME_TYPES)
        return self._adapter

    def _flush_spans(self) -> None:
        # The exporters' threads are frozen with the container between invocations: export before returning.
        telemetry = self.context.telemetry if self.context is not None else None
        if telemetry is not None:
            telemetry.tracer_provider.force_flush()
            if telemetry.meter_provider is not None:
                telemetry.meter_provider.force_flush()

    def close(self) -> None:
        """Run the app's shutdown (dispose the engine, close Redis, flush spans) and close the loop."""
        if self._lifespan is not None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self._lifespan.__aexit__(None, None, None))
            self._lifespan = None
            self._adapter = None
            self.context = None
        self.loop.close()
        asyncio.set_event_loop(None)


# `app.main.app` is built from the environment when this module is imported (the container's init phase).
handler = LambdaHandler(_app)
