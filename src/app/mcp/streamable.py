"""MCP over streamable HTTP at `/mcp`, on the SDK's session manager, stateless and answering in JSON: any instance
can answer any message (no session to pin to one), and each message is authenticated by the credentials it
carries, as every HTTP request is.

`/mcp` itself is exempt from the global rate limit (`MCP_PATH`): a tool call is counted as the API request it
makes, and a listing is counted by the server (`server._grants`), so that neither costs twice.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.config import Settings
from app.core.context import CONTEXT_KEY, AppContext
from app.core.exceptions import AuthenticationError
from app.core.problems import send_problem
from app.features.auth.dependencies import API_KEY_HEADER
from app.mcp.catalogue import Tools
from app.mcp.invocations import credential_headers, mcp_caller
from app.mcp.server import McpCaller, build_server

__all__ = ["MCP_PATH", "McpEndpoint", "McpSessions"]

MCP_PATH = "/mcp"


class McpSessions:
    """The running app's session manager (the SDK's runs once: each start of the app makes a new one)."""

    def __init__(self, manager: StreamableHTTPSessionManager) -> None:
        self.manager = manager

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        # The manager's task group is entered and left in a task of its own: a lifespan may end in another task
        # than it began (a test's fixture), and a task group refuses that.
        started, stopping = asyncio.Event(), asyncio.Event()

        async def run() -> None:
            async with self.manager.run():
                started.set()
                await stopping.wait()

        task = asyncio.create_task(run(), name="mcp-sessions")
        waiter = asyncio.create_task(started.wait())
        await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            task.result()  # the manager failed to start: raise its error
        try:
            yield
        finally:
            stopping.set()
            await task


class McpEndpoint:
    """The ASGI app at `/mcp`: refuses a request without credentials, and hands the others to the running app's
    session manager. Built with the app's settings before its routes; `install` adds it to the app."""

    def __init__(self, settings: Settings) -> None:
        self._forwarded_header = settings.forwarded_header
        tools = Tools(expose_admin=settings.mcp_expose_admin, excluded_tags=settings.mcp_excluded_tags)
        self._server = build_server(tools, self._caller)

    def install(self, app: FastAPI) -> None:
        app.router.routes.append(Route(MCP_PATH, endpoint=self, methods=["GET", "POST", "DELETE"]))

    def sessions(self) -> McpSessions:
        return McpSessions(StreamableHTTPSessionManager(app=self._server, json_response=True, stateless=True))

    def _caller(self, ctx: ServerRequestContext[Any, Any]) -> McpCaller:
        request = ctx.request
        if not isinstance(request, Request):  # the session manager attaches every message's request
            msg = "an MCP message over HTTP without its request"
            raise TypeError(msg)
        headers = credential_headers(request, forwarded_header=self._forwarded_header)
        return mcp_caller(request.scope["app"], request, headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Only whether there are credentials: which, and whether they hold, each message's handler finds out.
        headers = Request(scope).headers
        if "authorization" not in headers and API_KEY_HEADER not in headers:
            msg = f"MCP needs a bearer token or an API key (header {API_KEY_HEADER})."
            await send_problem(scope, send, AuthenticationError(msg))
            return
        context: AppContext = scope["state"][CONTEXT_KEY]
        await context.component(McpSessions).manager.handle_request(scope, receive, send)
