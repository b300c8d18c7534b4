"""Business spans, client spans, errors and metrics, exported to real in-process OTLP receivers (HTTP and gRPC).

The app here is the suite's app with `FORGE_OTEL_EXPORTER=otlp` pointed at the `otlp` fixture's receiver. Requests
go through `committing_client`, i.e. the app's own (instrumented) engine, so that SQL statements are spans too.
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from app.config import Settings
from app.core.context import AppContext
from app.core.tracing import Tracing, configure_telemetry
from app.main import create_app
from tests import helpers
from tests.support import counters
from tests.support.app import Running, running
from tests.support.otlp import OtlpReceiver, attributes, otlp_grpc_receiver
from tests.support.settings import BASE_URL, make_settings, service_url_or_skip

pytestmark = pytest.mark.settings(otel_exporter="otlp")

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
INCREMENTS = f"POST {counters.PATH}/{{counter_id}}/increments"
PUBLIC = "/api/v1/config"  # a public read, rate limited
STATUS_UNSET, STATUS_ERROR = 0, 2
SPAN_KIND_SERVER = 2


@pytest.fixture
async def started(settings: Settings, engine: object, otlp: OtlpReceiver) -> AsyncIterator[Running]:
    async with running(create_app(settings)) as started:
        yield started


def flush(context: AppContext) -> None:
    assert context.telemetry is not None
    assert context.telemetry.tracer_provider.force_flush()


def one(spans: list[Any]) -> Any:
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def server_span(otlp: OtlpReceiver, name: str, *, trace_id: str = TRACE_ID) -> Any:
    return one([s for s in otlp.by_name(name) if s.trace_id.hex() == trace_id])


def sql_statements(otlp: OtlpReceiver, parent: Any) -> list[str]:
    return [str(attributes(s).get("db.statement", "")) for s in otlp.children_of(parent)]


async def test_a_write_makes_its_business_span_with_its_sql_inside(
    context: AppContext, committing_client: httpx.AsyncClient, otlp: OtlpReceiver, counters_path: str
) -> None:
    client = committing_client
    admin = await helpers.committed_admin_headers(context, client)
    created = (await client.post(counters_path, json={"name": "traced", "ceiling": 3}, headers=admin)).json()
    traced = {**await helpers.user_headers(client), "traceparent": TRACEPARENT}

    made = await client.post(f"{counters_path}/{created['id']}/increments", json={"by": 2}, headers=traced)
    assert made.status_code == 201, made.text
    flush(context)

    post = server_span(otlp, INCREMENTS)
    business = one([s for s in otlp.children_of(post) if s.name == counters.SPAN])
    assert attributes(business) == {"counter.id": created["id"], "counter.by": 2, "counter.value": 2}
    assert any(statement.startswith("UPDATE test_counter") for statement in sql_statements(otlp, business))
    [decision] = [attributes(e) for e in post.events if e.name == "rate_limit"]
    assert decision["rate_limit.policy"] == "default"
    assert decision["rate_limit.allowed"] is True
    assert isinstance(decision["rate_limit.remaining"], int)


async def test_a_refused_write_is_an_error_event_but_not_a_failed_span(
    context: AppContext, committing_client: httpx.AsyncClient, otlp: OtlpReceiver, counters_path: str
) -> None:
    client = committing_client
    admin = await helpers.committed_admin_headers(context, client)
    created = (await client.post(counters_path, json={"name": "full", "ceiling": 1}, headers=admin)).json()
    traced = {**await helpers.user_headers(client), "traceparent": TRACEPARENT}

    refused = await client.post(f"{counters_path}/{created['id']}/increments", json={"by": 5}, headers=traced)
    assert refused.status_code == 409
    flush(context)

    post = server_span(otlp, INCREMENTS)
    [error] = [attributes(e) for e in post.events if e.name == "exception"]
    assert error["exception.type"] == "conflict"
    assert error["exception.message"] == refused.json()["detail"]
    assert attributes(post)["error.type"] == "conflict"
    assert post.status.code == STATUS_UNSET  # the client's error, not the service's
    assert counters.SPAN in {s.name for s in otlp.children_of(post)}


async def test_an_unhandled_error_fails_the_span_without_leaking_its_message(
    app: FastAPI, context: AppContext, client: httpx.AsyncClient, otlp: OtlpReceiver
) -> None:
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    app.add_api_route("/boom", boom)
    response = await client.get("/boom", headers={"traceparent": TRACEPARENT})
    assert response.status_code == 500
    flush(context)

    span = server_span(otlp, "GET /boom")
    assert span.status.code == STATUS_ERROR
    [error] = [attributes(e) for e in span.events if e.name == "exception"]
    assert error["exception.type"] == "internal-error"
    assert "hunter2" not in str(span)


async def test_plain_http_errors_are_error_events_too(
    app: FastAPI, context: AppContext, client: httpx.AsyncClient, otlp: OtlpReceiver
) -> None:
    async def unavailable() -> None:
        raise HTTPException(503, "Down for maintenance.")

    app.add_api_route("/maintenance", unavailable)
    requests = {
        "1" * 32: ("GET", "/no/such/route", 404, "not-found"),
        "2" * 32: ("DELETE", "/api/v1/users/me", 405, "method-not-allowed"),
        "3" * 32: ("GET", "/maintenance", 503, "service-unavailable"),
    }
    answers = {}
    for trace_id, (method, path, _, _) in requests.items():
        traceparent = f"00-{trace_id}-b7ad6b7169203331-01"
        answers[trace_id] = await client.request(method, path, headers={"traceparent": traceparent})
    flush(context)

    for trace_id, (_, _, status, kind) in requests.items():
        assert answers[trace_id].status_code == status
        span = one([s for s in otlp.spans if s.trace_id.hex() == trace_id and s.kind == SPAN_KIND_SERVER])
        [error] = [attributes(e) for e in span.events if e.name == "exception"]
        assert error["exception.type"] == kind
        assert error["exception.message"] == answers[trace_id].json()["detail"]
        failed = status >= 500
        # On a 5xx, FastAPI's instrumentation sets error.type to the status code, as on the duration metric.
        assert attributes(span)["error.type"] == (str(status) if failed else kind)
        assert span.status.code == (STATUS_ERROR if failed else STATUS_UNSET)


@pytest.mark.settings(rate_limit_backend="redis")
async def test_redis_commands_are_child_spans(
    monkeypatch: pytest.MonkeyPatch, database_url: str, engine: object, otlp: OtlpReceiver
) -> None:
    redis_url = service_url_or_skip("FORGE_TEST_REDIS_URL", "Redis")
    app = create_app(make_settings(database_url, otel_exporter="otlp", redis_url=redis_url))
    async with (
        running(app) as started,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as client,
    ):
        assert (await client.get(PUBLIC, headers={"traceparent": TRACEPARENT})).status_code == 200
        flush(started.context)
    span = server_span(otlp, f"GET {PUBLIC}")
    commands = [attributes(s) for s in otlp.children_of(span) if attributes(s).get("db.system") == "redis"]
    assert commands, [s.name for s in otlp.children_of(span)]
    assert all(str(c["db.statement"]).startswith(("EVALSHA", "EVAL", "SCRIPT")) for c in commands)


@pytest.mark.settings(rate_limit_default="1/minute")
async def test_metrics_are_exported_over_otlp(
    context: AppContext, client: httpx.AsyncClient, otlp: OtlpReceiver
) -> None:
    assert (await client.delete("/api/v1/api-keys/9999")).status_code == 401
    assert (await client.delete("/api/v1/api-keys/9999")).status_code == 429
    assert context.telemetry is not None
    assert context.telemetry.meter_provider is not None
    assert context.telemetry.meter_provider.force_flush()

    names = {metric.name for metric in otlp.metrics}
    [durations] = otlp.metric("http.server.request.duration")
    points = {
        (attributes(p).get("http.route"), attributes(p)["http.response.status_code"]): p.count
        for p in durations.histogram.data_points
    }
    # Labelled by route template, never by raw path; the refused request never reached a route.
    assert points == {("/api/v1/api-keys/{key_id}", 401): 1, (None, 429): 1}
    [rejections] = otlp.metric("rate_limit.rejections")
    by_policy = {attributes(p)["policy"]: p.as_int for p in rejections.sum.data_points}
    assert by_policy["default"] == 1
    assert set(by_policy.values()) == {0, 1}
    if not context.settings.is_sqlite:  # SQLite's pool is not a QueuePool: no pool gauges there
        assert {"db.client.connection.pool.size", "db.client.connection.pool.in_use"} <= names


async def test_spans_and_metrics_go_over_grpc_when_asked(
    monkeypatch: pytest.MonkeyPatch, database_url: str, engine: object
) -> None:
    with otlp_grpc_receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        app = create_app(make_settings(database_url, otel_exporter="otlp"))
        async with (
            running(app) as started,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as client,
        ):
            assert (await client.get(PUBLIC, headers={"traceparent": TRACEPARENT})).status_code == 200
        # Leaving the lifespan shut the providers down, which flushed both signals over gRPC.
    assert server_span(receiver, f"GET {PUBLIC}").parent_span_id.hex() == "b7ad6b7169203331"
    assert receiver.metrics


def test_the_otlp_protocol_is_validated_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
    settings = Settings()
    assert (settings.otel_traces_protocol, settings.otel_metrics_protocol) == ("http/protobuf", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    with pytest.raises(ValidationError, match="OTEL_EXPORTER_OTLP"):
        Settings()


async def test_probes_make_no_spans(
    app: FastAPI, context: AppContext, client: httpx.AsyncClient, otlp: OtlpReceiver
) -> None:
    for probe in ("/healthz", "/readyz", "/metrics"):
        assert (await client.get(probe)).status_code == 200
    assert (await client.get(PUBLIC)).status_code == 200
    flush(context)
    [request_span] = [span for span in otlp.spans if not span.parent_span_id]  # no stray root spans
    assert request_span.name == f"GET {PUBLIC}"


def test_with_tracing_off_business_spans_are_nothing() -> None:
    off = Tracing.of(configure_telemetry(make_settings("sqlite+aiosqlite:///unused.db")))
    assert not off.active
    with off.span(counters.SPAN) as span:
        assert span is None
