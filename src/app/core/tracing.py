"""OpenTelemetry tracing, configured from settings and the standard OTEL_* variables.

`FORGE_OTEL_EXPORTER`: `none` (the default: nothing is instrumented, so tracing costs nothing), `console`, or
`otlp` (OTLP over HTTP/protobuf; `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
`OTEL_EXPORTER_OTLP_HEADERS` honoured by the exporter). The SDK itself reads `OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)` and `OTEL_BSP_*`. Incoming W3C `traceparent` headers
continue their trace, and the shared outbound HTTP client (core/http.py) passes it on to upstreams. The lifespan
shuts the provider down, which flushes pending spans.
"""

from typing import Any

import httpx
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from structlog.typing import EventDict

from app import __version__
from app.config import OtelExporter, Settings

__all__ = ["add_trace_context", "configure_tracing", "instrument_http_client"]


def _exporter(kind: OtelExporter) -> SpanExporter:
    return ConsoleSpanExporter() if kind == "console" else OTLPSpanExporter()


def configure_tracing(app: FastAPI, settings: Settings) -> TracerProvider | None:
    """Instrument `app` when an exporter is configured; the caller shuts the returned provider down."""
    if settings.otel_exporter == "none":
        return None
    resource = Resource.create(
        {"service.version": __version__, "deployment.environment.name": settings.environment.value}
    )
    service_name = resource.attributes.get("service.name")
    if not isinstance(service_name, str) or service_name.startswith("unknown_service"):  # no OTEL_SERVICE_NAME
        resource = resource.merge(Resource({"service.name": "forgeapi"}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(_exporter(settings.otel_exporter)))
    # The per-message receive/send spans say little and cost much (performance notes): left out.
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, exclude_spans=["receive", "send"])
    return provider


def instrument_http_client(client: httpx.AsyncClient, provider: TracerProvider) -> None:
    """A client span per outbound request, and the W3C `traceparent` header that continues the current trace."""
    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)


def add_trace_context(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: the current span's `trace_id` and `span_id`, when there is one."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict
