"""Tracing against a real (in-process) OTLP/HTTP receiver: spans, their attributes, and the caller's trace."""

import io
import json
import logging

import httpx
import pytest

from app.core.tracing import Tracing, configure_telemetry
from app.main import create_app
from tests.support.app import running
from tests.support.otlp import otlp_receiver
from tests.support.settings import BASE_URL, make_settings

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


async def test_a_request_is_exported_continuing_the_callers_trace(
    database_url: str, engine: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with otlp_receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "forgeapi-under-test")
        app = create_app(make_settings(database_url, otel_exporter="otlp", log_level="INFO"))
        async with (
            running(app) as started,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as client,
        ):
            with caplog.at_level(logging.INFO, logger="app.access"):
                response = await client.delete(
                    "/api/v1/api-keys/42", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
                )
        # The lifespan's end shut the provider down, which flushed the batch to the receiver.
    assert response.status_code == 401
    [server_span] = receiver.by_name("DELETE /api/v1/api-keys/{key_id}")
    assert server_span.trace_id.hex() == TRACE_ID
    assert server_span.parent_span_id.hex() == PARENT_ID
    attributes = {a.key: a.value for a in server_span.attributes}
    assert attributes["http.route"].string_value == "/api/v1/api-keys/{key_id}"
    assert receiver.resources[0]["service.name"] == "forgeapi-under-test"
    assert receiver.resources[0]["deployment.environment.name"] == "test"
    [access_line] = [r for r in caplog.records if r.name == "app.access"]
    assert access_line.msg["trace_id"] == TRACE_ID  # type: ignore[index]


async def test_a_rendered_json_log_line_names_its_request_trace_and_span(
    database_url: str, engine: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    with otlp_receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        app = create_app(make_settings(database_url, otel_exporter="otlp", log_format="json", log_level="INFO"))
        root = logging.getLogger()
        [handler] = [h for h in root.handlers if h.get_name() == "forgeapi"]
        assert isinstance(handler, logging.StreamHandler)
        output = io.StringIO()
        handler.setStream(output)  # what the handler renders, as an operator's log shipper reads it
        try:
            async with (
                running(app) as started,
                httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as client,
            ):
                response = await client.delete("/api/v1/api-keys/42")
        finally:
            root.removeHandler(handler)
    [line] = [json.loads(line) for line in output.getvalue().splitlines() if '"app.access"' in line]
    [server_span] = receiver.by_name("DELETE /api/v1/api-keys/{key_id}")
    assert line["path"] == "/api/v1/api-keys/42"
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["trace_id"] == server_span.trace_id.hex()
    assert line["span_id"] == server_span.span_id.hex()


def test_with_the_exporter_off_nothing_is_instrumented() -> None:
    assert configure_telemetry(make_settings("sqlite+aiosqlite:///unused.db")) is None
    assert not Tracing.of(None).active
