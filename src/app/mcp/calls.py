"""A tool call made as the HTTP request it stands for, in-process: through the app's whole stack (the request
pipeline with its rate limit, request id, access log and metrics, the app's tracing, routing, the route's auth
dependencies and validation), carrying the MCP session's credentials. The response becomes the tool's result; a
problem+json response a tool error carrying the problem's type, title and detail."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import mcp_types as types
import orjson
import structlog
from opentelemetry import propagate
from starlette.types import ASGIApp

from app import __version__
from app.core.problems import PROBLEM_MEDIA_TYPE
from app.mcp.catalogue import BODY, Operation

__all__ = ["Invocation", "call", "problem_result"]

_BASE_URL = "http://mcp.internal"
_USER_AGENT = f"forge-mcp/{__version__}"


@dataclass(frozen=True, slots=True)
class Invocation:
    """Where and as whom calls are made: the app (served with its lifespan state), the session's credential
    headers (and the forwarding header its client address came with), and the client address."""

    app: ASGIApp
    headers: Sequence[tuple[str, str]]
    client: tuple[str, int]


def problem_result(problem: Mapping[str, Any]) -> types.CallToolResult:
    """A tool error carrying the problem (RFC 9457) whole, and its type, title and detail as text."""
    text = f"{problem.get('title', 'Error')} ({problem.get('status', '?')}): {problem.get('detail', '')}\n"
    text += f"type: {problem.get('type', 'about:blank')}"
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=dict(problem), is_error=True
    )


def _url(operation: Operation, arguments: Mapping[str, Any]) -> str:
    path = operation.path
    for name, place in operation.parameters.items():
        if place == "path":
            path = path.replace("{" + name + "}", quote(str(arguments[name]), safe=""))
    return path


def _request(operation: Operation, arguments: Mapping[str, Any], invocation: Invocation) -> httpx.Request:
    missing = [name for name, place in operation.parameters.items() if place == "path" and name not in arguments]
    if missing:
        raise _MissingArgumentsError(missing)
    query = {
        name: value
        for name, value in arguments.items()
        if operation.parameters.get(name) == "query" and value is not None
    }
    headers = dict(invocation.headers) | {"user-agent": _USER_AGENT}
    headers |= {
        name: str(value)
        for name, value in arguments.items()
        if operation.parameters.get(name) == "header" and value is not None
    }
    propagate.inject(headers)  # the request's span continues the tool call's trace
    content = orjson.dumps(arguments[BODY]) if BODY in arguments else None
    if content is not None:
        headers["content-type"] = "application/json"
    return httpx.Request(
        operation.method, _BASE_URL + _url(operation, arguments), params=query, headers=headers, content=content
    )


class _MissingArgumentsError(Exception):
    def __init__(self, names: list[str]) -> None:
        super().__init__(names)
        self.names = names


def _result(response: httpx.Response) -> types.CallToolResult:
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if media_type == PROBLEM_MEDIA_TYPE:
        return problem_result(orjson.loads(response.content))
    if not response.content:
        text = f"{response.status_code} {response.reason_phrase}"
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=response.is_error)
    structured: dict[str, Any] | None = None
    if media_type == "application/json":
        value = orjson.loads(response.content)
        structured = value if isinstance(value, dict) else {"result": value}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=response.text)],
        structured_content=structured,
        is_error=response.is_error,
    )


async def call(operation: Operation, arguments: Mapping[str, Any], invocation: Invocation) -> types.CallToolResult:
    """Make the operation's request with `arguments` (path, query and header parameters by name, the body as
    `body`), and answer with what the app answered."""
    try:
        request = _request(operation, arguments, invocation)
    except _MissingArgumentsError as missing:
        return problem_result(
            {
                "type": "about:blank",
                "title": "Bad Request",
                "status": 400,
                "detail": f"Missing argument(s): {', '.join(missing.names)}.",
            }
        )
    transport = httpx.ASGITransport(app=invocation.app, client=invocation.client)
    with structlog.contextvars.bound_contextvars(mcp_tool=operation.name):
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.send(request)
    return _result(response)
