"""The caller of an MCP message: its credentials and client address, and how its tool calls reach the app."""

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import Scope

from app.core.context import CONTEXT_KEY, AppContext, WithLifespanState
from app.features.auth.dependencies import API_KEY_HEADER
from app.mcp.calls import Invocation
from app.mcp.server import McpCaller

__all__ = ["LOOPBACK", "credential_headers", "mcp_caller", "stand_in_request"]

LOOPBACK = ("127.0.0.1", 0)
_CREDENTIALS = ("authorization", API_KEY_HEADER.lower())


def credential_headers(request: Request, *, forwarded_header: str) -> list[tuple[str, str]]:
    """What a tool call carries of the `/mcp` request: its credentials, and the forwarding header its client
    address was worked out from (so that the call's address is the same, behind the same trusted proxies)."""
    names = (*_CREDENTIALS, forwarded_header)
    return [(name, value) for name, value in request.headers.items() if name in names]


def mcp_caller(app: FastAPI, request: Request, headers: Sequence[tuple[str, str]]) -> McpCaller:
    context: AppContext = request.scope["state"][CONTEXT_KEY]
    client = request.scope.get("client") or LOOPBACK
    served = WithLifespanState(app, {CONTEXT_KEY: context})  # a fresh state, as the server gives every request
    return McpCaller(app, request, Invocation(served, tuple(headers), (client[0], client[1])))


def stand_in_request(context: AppContext, headers: Sequence[tuple[str, str]]) -> Request:
    """A request carrying `headers` from the local machine, for a session whose credentials came with no request
    (stdio): what the auth feature verifies them on."""
    scope: Scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "root_path": "",
        "query_string": b"",
        "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers],
        "client": LOOPBACK,
        "server": ("localhost", 0),
        "state": {CONTEXT_KEY: context},
    }
    return Request(scope)
