"""What tracing and metrics cost on a database-backed endpoint, all variants measured in one run.

Run: `uv run python -m benchmarks.tracing [--seconds 5] [--rounds 3] [--products 10000]` (needs wrk:
`apt-get install wrk`). To measure on PostgreSQL, set FORGE_BENCH_DATABASE_URL (e.g.
postgresql+asyncpg://postgres@127.0.0.1/forgeapi_bench); the default is a fresh SQLite file.

The whole service (`app.main:create_app`, one uvicorn worker pinned to one core) serves `GET /api/v1/products`
(a page of 20 with its total) to wrk on the other core, 64 connections. Spans go over OTLP/HTTP to a sink on this
machine that accepts and drops them, so that exporting (protobuf encoding, the HTTP call) is paid as in production.
The reference is the same service built with no telemetry wiring at all: no tracer or meter provider
(`FORGE_OTEL_EXPORTER=none`, so FastAPI's own instrumentation is switched off and passes each request straight
through) and no Prometheus metrics (`FORGE_METRICS_ENABLED=false`, so the request middleware counts nothing). Every
variant, "tracing off" as shipped (with `/metrics`) included, is reported as a ratio to it; the metrics' cost is
reported on its own, with tracing off (Prometheus) and on (Prometheus and OTLP). Access logs are off in every
variant (log level WARNING) so that they do not dilute the differences.
"""

import argparse
import os
import statistics
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks._http import run_wrk, serve, wrk_available
from benchmarks.harness import prepare_database

PATH = "/api/v1/products?page=3&size=20"

COMMON = {
    "FORGE_LOG_LEVEL": "WARNING",
    "FORGE_RATE_LIMIT_DEFAULT": "1000000/second",
    "OTEL_BSP_MAX_QUEUE_SIZE": "8192",
}
_TRACED = {"FORGE_OTEL_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio"}
_NO_METRICS = {"FORGE_METRICS_ENABLED": "false", "FORGE_OTEL_METRICS_ENABLED": "false"}
REFERENCE = "no telemetry (reference)"
OFF = "tracing off (default, /metrics on)"
ON_10 = "traced, sampled 10 %"
ON_100 = "traced, sampled 100 %"
ON_100_NO_METRICS = "traced 100 %, no metrics"
VARIANTS: dict[str, dict[str, str]] = {
    REFERENCE: {"FORGE_OTEL_EXPORTER": "none", **_NO_METRICS},
    OFF: {"FORGE_OTEL_EXPORTER": "none"},
    "traced, sampled 0 % (parent-based)": {**_TRACED, "OTEL_TRACES_SAMPLER_ARG": "0.0"},
    ON_10: {**_TRACED, "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    ON_100: {**_TRACED, "OTEL_TRACES_SAMPLER_ARG": "1.0"},
    ON_100_NO_METRICS: {**_TRACED, "OTEL_TRACES_SAMPLER_ARG": "1.0", **_NO_METRICS},
    "traced 100 % + FastAPI operation spans": {
        **_TRACED,
        "OTEL_TRACES_SAMPLER_ARG": "1.0",
        "FORGE_OTEL_OPERATION_SPANS": "true",
    },
}
# (what, variant, baseline): the costs the targets speak of, each as 1 - variant / baseline.
SUMMARY = (
    # Nothing but the Prometheus metrics differs from the reference: with no provider, no tracing code runs.
    ("tracing off as shipped = /metrics (target <= 3 %)", OFF, REFERENCE),
    ("tracing on, 10 %", ON_10, REFERENCE),
    ("tracing on, 100 % (target <= 25 %)", ON_100, REFERENCE),
    ("tracing on, 100 %, without any metrics", ON_100_NO_METRICS, REFERENCE),
    ("metrics with tracing on (Prometheus + OTLP)", ON_100, ON_100_NO_METRICS),
)


@contextmanager
def otlp_sink() -> Iterator[str]:
    """Accepts OTLP/HTTP exports and drops them: a collector that costs the service nothing but the call."""

    class Sink(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per variant (medians are reported)")
    parser.add_argument("--products", type=int, default=10_000, help="rows in the product table")
    args = parser.parse_args()
    if not wrk_available():
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        url = os.environ.get("FORGE_BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        prepare_database(url, args.products)
        sink = stack.enter_context(otlp_sink())
        base_env = {**COMMON, "FORGE_DATABASE_URL": url, "OTEL_EXPORTER_OTLP_ENDPOINT": sink}
        print(f"GET {PATH} on {url.split(':', 1)[0]}, {args.products:,} products; 1 uvicorn worker, wrk 64 connections")
        print(f"{args.rounds} rounds x {args.seconds} s per variant, interleaved; medians\n")
        results: dict[str, list[float]] = {name: [] for name in VARIANTS}
        p99: dict[str, list[float]] = {name: [] for name in VARIANTS}
        errors = dict.fromkeys(VARIANTS, 0)
        for round_ in range(args.rounds):
            order = list(VARIANTS.items()) if round_ % 2 == 0 else list(reversed(VARIANTS.items()))
            for name, env in order:
                # One variant at a time on the server core: the others would compete for it.
                with serve("app.main:create_app", env={**base_env, **env}, factory=True) as base:
                    run_wrk(f"{base}{PATH}", seconds=1)  # warm-up
                    result = run_wrk(f"{base}{PATH}", seconds=args.seconds)
                results[name].append(result.requests_per_second)
                p99[name].append(result.p99_ms)
                errors[name] += result.errors
        report(results, p99, errors)


def report(results: dict[str, list[float]], p99: dict[str, list[float]], errors: dict[str, int]) -> None:
    median = {name: statistics.median(values) for name, values in results.items()}
    reference = median[REFERENCE]
    print(f"  {'variant':<40} {'req/s':>8} {'p99 ms':>8} {'ratio':>7} {'cost':>7} {'errors':>7}")
    for name in VARIANTS:
        ratio = median[name] / reference
        print(
            f"  {name:<40} {median[name]:>8,.0f} {statistics.median(p99[name]):>8.1f} {ratio:>7.3f} "
            f"{100 * (1 - ratio):>6.1f}% {errors[name]:>7}"
        )
    print("\n  cost of (ratio of medians)")
    for what, variant, baseline in SUMMARY:
        ratio = median[variant] / median[baseline]
        print(f"  {what:<52} {100 * (1 - ratio):>6.1f}%  ({variant} / {baseline})")


if __name__ == "__main__":
    main()
