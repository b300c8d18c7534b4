"""In-process OTLP receivers (HTTP/protobuf and gRPC): real servers that decode exported spans and metrics."""

import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

__all__ = ["OtlpReceiver", "attributes", "otlp_grpc_receiver", "otlp_receiver"]


def attributes(item: Any) -> dict[str, Any]:
    """A span's, event's or data point's attributes as plain Python values."""
    decoded: dict[str, Any] = {}
    for attribute in item.attributes:
        value = attribute.value
        decoded[attribute.key] = getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None
    return decoded


class OtlpReceiver:
    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.metrics: list[Any] = []
        self.resources: list[dict[str, str]] = []
        self.endpoint = ""
        self._lock = threading.Lock()

    def by_name(self, name: str) -> list[Any]:
        return [span for span in self.spans if span.name == name]

    def metric(self, name: str) -> list[Any]:
        return [metric for metric in self.metrics if metric.name == name]

    def children_of(self, parent: Any) -> list[Any]:
        return [span for span in self.spans if span.parent_span_id == parent.span_id]

    def add_traces(self, request: ExportTraceServiceRequest) -> None:
        with self._lock:
            for resource_spans in request.resource_spans:
                self.resources.append({a.key: a.value.string_value for a in resource_spans.resource.attributes})
                for scope_spans in resource_spans.scope_spans:
                    self.spans.extend(scope_spans.spans)

    def add_metrics(self, request: ExportMetricsServiceRequest) -> None:
        with self._lock:
            for resource_metrics in request.resource_metrics:
                for scope_metrics in resource_metrics.scope_metrics:
                    self.metrics.extend(scope_metrics.metrics)


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """OTLP over HTTP/protobuf, as a collector listens on 4318 (`/v1/traces`, `/v1/metrics`)."""
    received = OtlpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            reply: bytes
            if self.path == "/v1/traces":
                received.add_traces(ExportTraceServiceRequest.FromString(body))
                reply = ExportTraceServiceResponse().SerializeToString()
            elif self.path == "/v1/metrics":
                received.add_metrics(ExportMetricsServiceRequest.FromString(body))
                reply = ExportMetricsServiceResponse().SerializeToString()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *_args: Any) -> None:
            return  # keep test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    received.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, received: OtlpReceiver) -> None:
        self.received = received

    def Export(self, request: ExportTraceServiceRequest, _context: Any) -> ExportTraceServiceResponse:  # noqa: N802
        self.received.add_traces(request)
        return ExportTraceServiceResponse()


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, received: OtlpReceiver) -> None:
        self.received = received

    def Export(self, request: ExportMetricsServiceRequest, _context: Any) -> ExportMetricsServiceResponse:  # noqa: N802
        self.received.add_metrics(request)
        return ExportMetricsServiceResponse()


@contextmanager
def otlp_grpc_receiver() -> Iterator[OtlpReceiver]:
    """OTLP over gRPC, as a collector listens on 4317 (plaintext: the endpoint is `http://`)."""
    received = OtlpReceiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(received), server)  # type: ignore[no-untyped-call]
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsService(received), server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    received.endpoint = f"http://127.0.0.1:{port}"
    try:
        yield received
    finally:
        server.stop(grace=None)
