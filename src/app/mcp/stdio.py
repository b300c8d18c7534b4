"""MCP over stdio (`forge mcp`), for desktop agents that start the server themselves: the app is started in this
process (its lifespan run, as a server runs it) and every tool call goes through it in-process, carrying the API key
or token the command was given. The session is that credential's: listed and called as over HTTP."""

from collections.abc import Sequence
from typing import Any, cast

from fastapi import FastAPI
from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server

from app.config import Settings
from app.core.context import CONTEXT_KEY, AppContext
from app.features.auth.dependencies import API_KEY_HEADER
from app.mcp.catalogue import Tools
from app.mcp.invocations import mcp_caller, stand_in_request
from app.mcp.server import McpCaller, build_server

__all__ = ["credentials", "serve_stdio"]


def credentials(*, api_key: str | None, token: str | None) -> list[tuple[str, str]]:
    """The headers a session's calls carry: the API key, or else the bearer token."""
    if api_key:
        return [(API_KEY_HEADER, api_key)]
    if token:
        return [("authorization", f"Bearer {token}")]
    return []


async def serve_stdio(app: FastAPI, settings: Settings, headers: Sequence[tuple[str, str]]) -> None:
    """Serve the app's tools over this process's stdin and stdout until the client closes them."""
    async with app.router.lifespan_context(app) as state:
        context = cast("AppContext", cast("dict[str, Any]", state)[CONTEXT_KEY])
        caller = mcp_caller(app, stand_in_request(context, headers), headers)

        def caller_of(_ctx: ServerRequestContext[Any, Any]) -> McpCaller:
            return caller

        tools = Tools(expose_admin=settings.mcp_expose_admin, excluded_tags=settings.mcp_excluded_tags)
        server = build_server(tools, caller_of)
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
