"""MCP tool calls over streamable HTTP, traced as the HTTP requests they stand for: exported to a real in-process
OTLP receiver, the request's server span (route, method, status) is a child of the tool call's span, in the trace
of the `/mcp` request that carried the call."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.core.context import AppContext
from app.features.api_keys.models import Scope
from app.main import create_app
from tests import helpers
from tests.support import dynamic_endpoints as specs
from tests.support.app import Running, running
from tests.support.mcp import api_key, http_client
from tests.support.otlp import OtlpReceiver, attributes

pytestmark = pytest.mark.settings(otel_exporter="otlp")

TRACE_ID = "5b8efff798038103d269b633813fc60c"
TRACEPARENT = f"00-{TRACE_ID}-eee19b7ec3c1b174-01"


@pytest.fixture
async def started(settings: Settings, engine: object, otlp: OtlpReceiver) -> AsyncIterator[Running]:
    """The suite's app, started after the receiver (it exports there when the settings say `otlp`)."""
    async with running(create_app(settings)) as started:
        yield started


def traced(context: AppContext, otlp: OtlpReceiver, name: str) -> list[Any]:
    """The spans called `name` in the test's trace, once the app's provider has flushed them."""
    assert context.telemetry is not None
    assert context.telemetry.tracer_provider.force_flush()
    return [span for span in otlp.by_name(name) if span.trace_id.hex() == TRACE_ID]


async def test_a_tool_call_is_traced_as_the_request_it_stands_for(
    otlp: OtlpReceiver, started: Running, context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    admin = await helpers.committed_admin_headers(context, committing_client)
    await specs.create(committing_client, admin, specs.static(path="/api/v1/x/traced", auth="scope:api:read"))
    key = await api_key(context, Scope.API_READ)

    async with http_client(started.asgi, {"X-API-Key": key, "traceparent": TRACEPARENT}) as client:
        result = await client.call_tool("dynamic_status_static_get", {})

    assert not result.is_error
    [tool_call] = traced(context, otlp, "tools/call dynamic_status_static_get")
    [request] = traced(context, otlp, "GET /api/v1/x/traced")
    [mcp_request] = [span for span in otlp.spans if span.span_id == tool_call.parent_span_id]
    assert mcp_request.name == "POST /mcp"  # the `/mcp` request that carried the `tools/call` message
    assert request.parent_span_id == tool_call.span_id
    assert attributes(tool_call)["gen_ai.tool.name"] == "dynamic_status_static_get"
    assert attributes(request)["http.route"] == "/api/v1/x/traced"
    assert attributes(request)["http.request.method"] == "GET"
    assert attributes(request)["http.response.status_code"] == 200


async def test_a_refused_tool_call_is_traced_with_its_status(
    otlp: OtlpReceiver, started: Running, context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    admin = await helpers.committed_admin_headers(context, committing_client)
    await specs.create(committing_client, admin, specs.collection(auth="scope:api:write"))
    key = await api_key(context, Scope.API_READ)

    async with http_client(started.asgi, {"X-API-Key": key, "traceparent": TRACEPARENT}) as client:
        refused = await client.call_tool("dynamic_books_collection_post", {"body": {"title": "Dune"}})

    assert refused.is_error
    [tool_call] = traced(context, otlp, "tools/call dynamic_books_collection_post")
    [request] = [span for span in otlp.children_of(tool_call) if span.name.startswith("POST ")]
    assert attributes(request)["http.request.method"] == "POST"
    assert attributes(request)["http.response.status_code"] == 403
    assert attributes(request)["error.type"] == "forbidden"
    assert attributes(tool_call)["error.type"] == f"{helpers.PROBLEM_PREFIX}forbidden"
