"""Dynamic endpoints share the built-in routes' tracing and rate limiting."""

from collections.abc import AsyncIterator

import httpx
import pytest

from app.config import Settings
from app.core.context import AppContext
from app.main import create_app
from tests import helpers
from tests.support.app import Running, running
from tests.support.dynamic_endpoints import create, static
from tests.support.otlp import OtlpReceiver, attributes

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


@pytest.fixture
async def started(settings: Settings, engine: object, otlp: OtlpReceiver) -> AsyncIterator[Running]:
    """The suite's app, started after the receiver (it exports there when the settings say `otlp`)."""
    async with running(create_app(settings)) as started:
        yield started


@pytest.mark.settings(otel_exporter="otlp")
async def test_the_request_span_is_named_after_the_spec_template(
    context: AppContext, client: httpx.AsyncClient, admin: helpers.Headers, otlp: OtlpReceiver
) -> None:
    await create(client, admin, static(name="item", path="/api/v1/x/items/{sku:int}", auth="public"))
    traceparent = f"00-{TRACE_ID}-b7ad6b7169203331-01"

    assert (await client.get("/api/v1/x/items/42", headers={"traceparent": traceparent})).status_code == 200

    assert context.telemetry is not None
    assert context.telemetry.tracer_provider.force_flush()

    [span] = [s for s in otlp.by_name("GET /api/v1/x/items/{sku}") if s.trace_id.hex() == TRACE_ID]
    assert attributes(span)["http.route"] == "/api/v1/x/items/{sku}"
    assert not otlp.by_name("GET /api/v1/x/items/42")


@pytest.mark.settings(rate_limit_default="5/minute")
async def test_the_global_rate_limit_applies(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    await create(client, admin, static())

    responses = [await client.get("/api/v1/x/status") for _ in range(6)]

    assert "ratelimit" in responses[0].headers
    limited = helpers.problem(responses[-1], 429, "rate-limited")
    assert limited["instance"] == "/api/v1/x/status"
    assert "retry-after" in responses[-1].headers
