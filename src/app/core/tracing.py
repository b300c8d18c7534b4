"""OpenTelemetry: traces (and metrics over OTLP), configured from settings and the standard OTEL_* variables.

`FORGE_OTEL_EXPORTER`: `none` (the default: nothing is instrumented, so tracing costs next to nothing), `console`,
or `otlp` (`OTEL_EXPORTER_OTLP_PROTOCOL` = `http/protobuf`, the default, or `grpc`; `OTEL_EXPORTER_OTLP_ENDPOINT`,
the per-signal `..._TRACES_`/`..._METRICS_` variables and `OTEL_EXPORTER_OTLP_HEADERS` are read by the exporters).
The SDK itself reads `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_BSP_*` and
`OTEL_METRIC_EXPORT_INTERVAL`. Incoming W3C `traceparent` headers continue their trace; the database, Redis and
httpx clients are instrumented so that their calls are child spans (and outgoing HTTP calls carry `traceparent`).

Business code opens spans with the app's `Tracing` (`AppContext.tracing.span(...)`, passed to the service that opens
them: no module holds a tracer, so apps built one after another in one process never trace through each other's
provider) and annotates the request's span with `current_span()`; both are no-ops when tracing is off. The lifespan
shuts the providers down, which flushes pending spans and metrics.
"""

from collections.abc import Callable, Iterable, Mapping, MutableMapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.metrics import CallbackOptions, Meter, NoOpMeterProvider, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.typing import EventDict

from app import DISTRIBUTION, __version__
from app.config import OtlpProtocol, Settings
from app.core.operational import OPERATIONAL_PATHS

__all__ = [
    "Telemetry",
    "Tracing",
    "add_event",
    "add_trace_context",
    "configure_telemetry",
    "current_span",
    "fastapi_telemetry",
    "instrument_clients",
    "instrument_http_client",
    "meter_of",
    "observe_state",
    "record_error",
    "trace_carrier",
    "untraced",
]

SCOPE = "app"


@dataclass(frozen=True, slots=True)
class Telemetry:
    """The providers an app exports through; `shutdown()` flushes both."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider | None
    operation_spans: bool

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        if self.meter_provider is not None:
            self.meter_provider.shutdown()


_W3C = TraceContextTextMapPropagator()


def trace_carrier() -> dict[str, str]:
    """The current span as W3C trace context (`traceparent`), for work that continues the trace elsewhere (a job);
    empty when no span is being recorded."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier


@dataclass(frozen=True, slots=True)
class Tracing:
    """The app's spans for business code: `span(...)` opens a child of the current span; nothing when tracing is off."""

    tracer: trace.Tracer | None = None

    @classmethod
    def of(cls, telemetry: Telemetry | None) -> "Tracing":
        return cls(None if telemetry is None else telemetry.tracer_provider.get_tracer(SCOPE, __version__))

    @property
    def active(self) -> bool:
        """Whether spans are being made: lets hot paths skip building attributes that no one would read."""
        return self.tracer is not None

    def span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        parent: Mapping[str, str] | None = None,
    ) -> AbstractContextManager[Span | None]:
        """A child span of the current one (or, given a `parent` from `trace_carrier()`, of the span that was
        current there, in another task or process), or nothing at all when tracing is off."""
        if self.tracer is None:
            return nullcontext()
        context = _W3C.extract(parent) if parent else None
        return self.tracer.start_as_current_span(name, context=context, attributes=attributes)


def _resource(settings: Settings) -> Resource:
    resource = Resource.create(
        {"service.version": __version__, "deployment.environment.name": settings.environment.value}
    )
    service_name = resource.attributes.get("service.name")
    if not isinstance(service_name, str) or service_name.startswith("unknown_service"):  # no OTEL_SERVICE_NAME
        resource = resource.merge(Resource({"service.name": DISTRIBUTION}))
    return resource


def _span_exporter(settings: Settings) -> SpanExporter:
    if settings.otel_exporter == "console":
        return ConsoleSpanExporter()
    # Imported on demand: each protocol pulls its own transport (requests or grpcio).
    if settings.otel_traces_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter  # noqa: PLC0415

        return GrpcSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter  # noqa: PLC0415

    return HttpSpanExporter()


def _metric_exporter(kind: str, protocol: OtlpProtocol) -> MetricExporter:
    if kind == "console":
        return ConsoleMetricExporter()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter  # noqa: PLC0415

        return GrpcMetricExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter  # noqa: PLC0415

    return HttpMetricExporter()


def meter_of(telemetry: Telemetry | None) -> Meter | None:
    """The app's meter, when metrics are exported over OTLP (or to the console)."""
    if telemetry is None or telemetry.meter_provider is None:
        return None
    return telemetry.meter_provider.get_meter(SCOPE, __version__)


type StateReadings = Callable[[], Mapping[str, Any]]


def observe_state(telemetry: Telemetry | None, readings: StateReadings) -> None:
    """Gauges and counters kept elsewhere (pool, limiter), read when the exporter collects: free per request.

    Registered by the lifespan, which owns the database and the limiter that `readings` reads."""
    if telemetry is None or telemetry.meter_provider is None:
        return
    meter = telemetry.meter_provider.get_meter(SCOPE, __version__)

    def gauge(name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            value = readings().get(name)
            return [] if value is None else [Observation(value)]

        return observe

    meter.create_observable_gauge(
        "db.client.connection.pool.in_use", [gauge("db_pool_connections_in_use")], unit="{connection}"
    )
    meter.create_observable_gauge("db.client.connection.pool.size", [gauge("db_pool_size")], unit="{connection}")
    meter.create_observable_gauge(
        "db.client.connection.pool.overflow", [gauge("db_pool_overflow")], unit="{connection}"
    )

    def rejections(_options: CallbackOptions) -> Iterable[Observation]:
        by_policy: Mapping[str, int] = readings().get("rate_limit_rejections", {})
        return [Observation(count, {"policy": policy}) for policy, count in sorted(by_policy.items())]

    def failures(_options: CallbackOptions) -> Iterable[Observation]:
        value = readings().get("rate_limit_backend_failures")
        return [] if value is None else [Observation(value)]

    meter.create_observable_counter("rate_limit.rejections", [rejections], unit="{request}")
    meter.create_observable_counter("rate_limit.backend_failures", [failures], unit="{check}")


def _excluded(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in OPERATIONAL_PATHS


def configure_telemetry(settings: Settings) -> Telemetry | None:
    """The providers when an exporter is configured (the caller shuts them down); None when tracing is off."""
    if settings.otel_exporter == "none":
        return None
    resource = _resource(settings)
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(_span_exporter(settings)))
    meter_provider = None
    if settings.otel_metrics_enabled:
        reader = PeriodicExportingMetricReader(_metric_exporter(settings.otel_exporter, settings.otel_metrics_protocol))
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    return Telemetry(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        operation_spans=settings.otel_operation_spans,
    )


def fastapi_telemetry(telemetry: Telemetry | None) -> TelemetryConfig:
    """FastAPI's own instrumentation (`FastAPI(telemetry=...)`): a server span per request named after its route
    template, continuing an incoming `traceparent`, and RED metrics (`http.server.request.duration`, active
    requests) labelled by route template. Its OTel log records are left off: structlog already writes every line
    with the trace id, and those records would carry exception messages and request values."""
    if telemetry is None:
        return {"tracing": False, "metrics": False, "logs": False, "auto_configure": False}
    return {
        "tracer_provider": telemetry.tracer_provider,
        "meter_provider": telemetry.meter_provider,
        "tracing": True,
        "metrics": telemetry.meter_provider is not None,
        "logs": False,
        "operation_spans": telemetry.operation_spans,
        "auto_configure": False,
        "exclude": _excluded,
    }


def instrument_clients(telemetry: Telemetry | None, *, engine: AsyncEngine, redis: Redis | None) -> None:
    """Child spans for every SQL statement and Redis command (this engine and client only, not process-wide)."""
    if telemetry is None:
        return
    tracer = telemetry.tracer_provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__)
    meter_provider = telemetry.meter_provider or NoOpMeterProvider()
    meter = meter_provider.get_meter("opentelemetry.instrumentation.sqlalchemy")
    usage = meter.create_up_down_counter("db.client.connections.usage", unit="connections")
    EngineTracer(tracer, engine.sync_engine, usage)  # type: ignore[no-untyped-call]
    if redis is not None:
        RedisInstrumentor.instrument_client(redis, tracer_provider=telemetry.tracer_provider)


def untraced() -> AbstractContextManager[None]:
    """No client spans (SQL, Redis, HTTP) inside: for work outside any request span, such as probes."""
    return suppress_instrumentation()


def current_span() -> Span:
    """The request's span (a non-recording one when tracing is off: setting attributes on it is free)."""
    return trace.get_current_span()


def record_error(kind: str, detail: str, *, status_code: int) -> None:
    """Record an error answered to the client on the current span; 5xx also mark the span failed.

    Only what the client was told (the problem's type and detail) goes on the span: an exception's own message
    can carry SQL parameters or request values, and its traceback is in the log line that shares the trace id.
    """
    current = trace.get_current_span()
    if not current.is_recording():
        return
    current.add_event("exception", {"exception.type": kind, "exception.message": detail})
    current.set_attribute("error.type", kind)
    if status_code >= 500:  # noqa: PLR2004 - 4xx are the client's errors: the span's status stays unset
        current.set_status(Status(StatusCode.ERROR, detail))


def add_event(name: str, attributes: Mapping[str, AttributeValue]) -> None:
    current = trace.get_current_span()
    if current.is_recording():
        current.add_event(name, attributes)


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
