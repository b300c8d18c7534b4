"""The MCP server (the official SDK's low-level `Server`): `tools/list` answers with the tools the session's
credentials may call, `tools/call` makes the tool's HTTP request through the app (`calls.py`).

Each request names its caller through `CallerOf`: over streamable HTTP the `/mcp` request that carried the
message (its API key or bearer token), over stdio the credentials `forge mcp` was started with.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from fastapi import FastAPI
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from starlette.requests import Request

from app import __version__
from app.core.caller import caller_of
from app.core.context import context_of
from app.core.exceptions import ForgeError
from app.core.problems import problem_type
from app.core.tracing import record_error
from app.features.auth.dependencies import Grants, caller_grants
from app.mcp.calls import Invocation, call
from app.mcp.catalogue import Tools
from app.shared.ratelimit import enforce

__all__ = ["CallerOf", "McpCaller", "build_server"]

_INSTRUCTIONS = (
    "The tools are this API's operations, under the API key or token this session presents: only those it may "
    "call are listed. A tool error carries the API's problem (RFC 9457): its `type` says what went wrong."
)


@dataclass(frozen=True, slots=True)
class McpCaller:
    """`app`: the app whose operations are the tools; `request`: a request carrying the session's credentials and
    the app's context (whose caller `tools/list` verifies); `invocation`: how its tool calls are made."""

    app: FastAPI
    request: Request
    invocation: Invocation


type CallerOf = Callable[[ServerRequestContext[Any, Any]], McpCaller]


def _error(error: ForgeError) -> MCPError:
    problem = {"type": problem_type(error.slug), "title": error.title, "status": error.status, "detail": error.detail}
    return MCPError(types.INVALID_REQUEST, f"{error.title}: {error.detail}", data=problem | error.extensions)


async def _grants(request: Request) -> Grants:
    """The caller's grants, verified as any request's are; the listing counts as a request against its budget."""
    context = context_of(request)
    try:
        async with context.database.session(writes=False) as session:
            grants = await caller_grants(session, request=request)
        await enforce(request, "default", caller_of(request.scope).limit_key())
    except ForgeError as error:
        raise _error(error) from error
    return grants


def _call_attributes(ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) -> dict[str, str]:
    """The tool call span's attributes, named as the SDK's own tracing middleware names them (OTel's MCP
    conventions). That middleware traces through the process-wide tracer provider, which the app never sets (an
    app's spans go to its own provider), so the app's tracer makes the span its request's span is a child of."""
    attributes = {"mcp.method.name": "tools/call", "gen_ai.operation.name": "execute_tool"}
    attributes["gen_ai.tool.name"] = params.name
    if ctx.request_id is not None:
        attributes["jsonrpc.request.id"] = str(ctx.request_id)
    return attributes


def _record_problem(result: types.CallToolResult) -> None:
    """A tool error's problem on the tool call's span, as the request's span records it (5xx mark it failed)."""
    problem = result.structured_content if result.is_error else None
    if problem is not None:
        detail = str(problem.get("detail", ""))
        record_error(str(problem.get("type")), detail, status_code=int(problem.get("status", 500)))


def build_server(tools: Tools, caller_of_request: CallerOf) -> Server[Any]:
    async def list_tools(
        ctx: ServerRequestContext[Any, Any], _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        caller = caller_of_request(ctx)
        grants = await _grants(caller.request)
        return types.ListToolsResult(
            tools=[operation.tool for operation in tools.catalogue(caller.app).visible(grants)]
        )

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        caller = caller_of_request(ctx)
        operation = tools.catalogue(caller.app).operations.get(params.name)
        if operation is None:  # never a tool, left out (admin, excluded tag), or a dynamic endpoint since deleted
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")
        # Not checked against the caller's grants here: the request is refused by the very dependencies that
        # refuse it over HTTP (401, 403 with the scope it lacks), and answered as that problem.
        with context_of(caller.request).tracing.span(f"tools/call {params.name}", _call_attributes(ctx, params)):
            result = await call(operation, params.arguments or {}, caller.invocation)
            _record_problem(result)
        return result

    return Server(
        "forgeapi",
        version=__version__,
        instructions=_INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
