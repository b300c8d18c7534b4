"""`Metrics`: one app's metrics, shared with the server's other workers, and rendered for a scrape."""

import asyncio
import hmac
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.metrics import Meter
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from pydantic import SecretStr
from sqlalchemy.pool import Pool, QueuePool

from app.core.exceptions import AuthenticationError
from app.core.metrics._http import HttpMetrics, RequestCounts, http_families, request_counts
from app.core.metrics._jobs import JobMetrics, job_families
from app.core.metrics._shard import Shard, ShardReading, read_shards
from app.core.metrics._webhooks import webhook_families
from app.core.ratelimit import RateLimiter
from app.core.response_cache import ResponseStore

__all__ = ["PUBLISH_SECONDS", "Metrics", "authorise_scrape", "exposition", "job_metrics", "state_readings"]

# How often a worker copies what other components count (the pool, the rate limiter) into its shared file.
PUBLISH_SECONDS = 1.0
_GAUGE = "gauge"
_COUNTER = "counter"
_GAUGES = {
    "db_pool_connections_in_use": "Database connections checked out.",
    "db_pool_size": "Connections the pool keeps open (before overflow).",
    "db_pool_overflow": "Connections open beyond the pool size.",
    "response_cache_entries": "Responses the response cache keeps.",
    "response_cache_bytes": "Bytes the response cache keeps (bodies, headers, a fixed overhead per entry).",
}
_CACHE_COUNTERS = {
    "response_cache_hits": "Public reads answered from the response cache.",
    "response_cache_misses": "Public reads the response cache did not hold (computed, then stored if they may be).",
    "response_cache_evictions": "Entries evicted by the response cache's bounds (entries or bytes).",
}
_REJECTIONS = "rate_limit_rejections"
_BACKEND_FAILURES = "rate_limit_backend_failures"

type Family = CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily


def state_readings(
    *, pool: Pool | None, limiter: RateLimiter | None, cache: ResponseStore | None = None
) -> dict[str, Any]:
    """Counters and gauges that live elsewhere (the pool, the rate limiter, the response cache), read now; absent
    parts are left out."""
    readings: dict[str, Any] = {}
    if isinstance(pool, QueuePool):
        readings["db_pool_connections_in_use"] = pool.checkedout()
        readings["db_pool_size"] = pool.size()
        readings["db_pool_overflow"] = max(pool.overflow(), 0)
    if limiter is not None:
        readings[_REJECTIONS] = dict(limiter.rejections_by_policy)
        readings[_BACKEND_FAILURES] = limiter.backend_failures
    if cache is not None:
        readings |= {
            "response_cache_entries": len(cache),
            "response_cache_bytes": cache.bytes,
            "response_cache_hits": cache.hits,
            "response_cache_misses": cache.misses,
            "response_cache_evictions": cache.evictions,
        }
    return readings


class Metrics:
    """One app's metrics (tests build many apps, each with its own): the HTTP metrics, the readings of the pool and
    the rate limiter, and the scrape, which reports every worker of the server when they share a directory."""

    def __init__(self, *, api_prefix: str, meter: Meter | None = None) -> None:
        self.shard = Shard()
        self.http = HttpMetrics(self.shard, api_prefix)
        self.jobs = JobMetrics(self.shard, meter)  # with a meter, over OTLP too (the HTTP ones are FastAPI's)
        self._publisher: asyncio.Task[None] | None = None
        self._readings: Callable[[], Mapping[str, Any]] = dict

    def share(self, directory: Path | None, readings: Callable[[], Mapping[str, Any]]) -> None:
        """With a directory: count in a file there, where every worker of the server keeps its own and a scrape
        reads them all, and publish `readings()` (`state_readings`) there every `PUBLISH_SECONDS`, so that another
        worker's scrape finds them at most that old. Needs a running event loop; `unshare` undoes it."""
        if directory is None or self._publisher is not None:
            return
        self.shard.share(directory)
        self._readings = readings
        self._publisher = asyncio.create_task(self._publish_every(readings), name="metrics-publish")

    def unshare(self) -> None:
        """At shutdown: this worker's last readings into its file, which keeps its totals for the server's scrapes;
        its gauges stop counting (the file is no longer locked by a living worker)."""
        if self._publisher is None:
            return
        self._publisher.cancel()
        self._publisher = None
        self.publish(self._readings())
        self.shard.unshare()

    def publish(self, readings: Mapping[str, Any]) -> None:
        """Copy `readings` (`state_readings`) where this worker's scrapes, and the other workers', read them."""
        shard = self.shard
        for name in _GAUGES:
            if name in readings:
                shard.set((_GAUGE, name), readings[name])
        for policy, count in readings.get(_REJECTIONS, {}).items():
            shard.set((_COUNTER, _REJECTIONS, policy), count)
        if _BACKEND_FAILURES in readings:
            shard.set((_COUNTER, _BACKEND_FAILURES), readings[_BACKEND_FAILURES])
        for name in _CACHE_COUNTERS:
            if name in readings:
                shard.set((_COUNTER, name), readings[name])

    async def _publish_every(self, readings: Callable[[], Mapping[str, Any]]) -> None:
        while True:
            await asyncio.sleep(PUBLISH_SECONDS)
            self.publish(readings())

    def render(self, readings: Mapping[str, Any]) -> bytes:
        """The exposition text of the whole server, with this worker's `readings` (`state_readings`) as of now."""
        self.publish(readings)
        return exposition(self._server_shards())

    def request_counts(self) -> RequestCounts:
        """The requests the whole server answered so far, and its 4xx and 5xx, as /metrics would report them."""
        return request_counts(self._server_shards())

    def _server_shards(self) -> list[ShardReading]:
        directory = self.shard.directory
        return [self.shard.read()] if directory is None else read_shards(directory)


def job_metrics(metrics: Metrics | None, meter: Meter | None) -> JobMetrics | None:
    """Where a process counts its jobs: with its metrics for /metrics (and OTLP when there is a meter), over OTLP
    alone when /metrics is off, nowhere when both are."""
    if metrics is not None:
        return metrics.jobs
    return JobMetrics(meter=meter) if meter is not None else None


def authorise_scrape(authorization: str | None, token: SecretStr | None) -> None:
    """With a metrics token configured, a scrape must present it as a bearer token (401 otherwise)."""
    if token is None:
        return
    scheme, _, presented = (authorization or "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected):
        msg = "GET /metrics needs the metrics token (FORGE_METRICS_TOKEN) as a bearer token."
        raise AuthenticationError(msg)


def exposition(shards: Sequence[ShardReading]) -> bytes:
    """The Prometheus text of `shards` added up: counters over all of them (the workers gone included, so that no
    counter goes back when a worker is replaced), gauges over the living."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ShardsCollector(shards))
    return generate_latest(registry)


class _ShardsCollector(Collector):
    def __init__(self, shards: Sequence[ShardReading]) -> None:
        self._shards = shards

    def collect(self) -> Iterator[Family]:
        yield from http_families(self._shards)
        yield from job_families(self._shards)
        yield from webhook_families(self._shards)
        yield from _state_families(self._shards)


def _state_families(shards: Iterable[ShardReading]) -> Iterator[Family]:
    gauges: dict[str, float] = {}
    counters: dict[tuple[str, ...], float] = {}
    for shard in shards:
        for key, [value, *_] in shard.entries.items():
            if key[0] == _GAUGE and shard.live:
                gauges[key[1]] = gauges.get(key[1], 0.0) + value
            elif key[0] == _COUNTER:
                counters[key[1:]] = counters.get(key[1:], 0.0) + value
    for name, documentation in _GAUGES.items():
        if name in gauges:
            yield GaugeMetricFamily(name, documentation, value=gauges[name])
    rejections = sorted((labels[0], count) for (name, *labels), count in counters.items() if name == _REJECTIONS)
    if rejections:
        family = CounterMetricFamily(_REJECTIONS, "Requests refused with 429.", labels=["policy"])
        for policy, count in rejections:
            family.add_metric([policy], count)
        yield family
    if (_BACKEND_FAILURES,) in counters:
        yield CounterMetricFamily(
            _BACKEND_FAILURES, "Rate-limit checks the backend did not answer.", value=counters[_BACKEND_FAILURES,]
        )
    yield from _cache_families(counters)


def _cache_families(counters: Mapping[tuple[str, ...], float]) -> Iterator[Family]:
    for name, documentation in _CACHE_COUNTERS.items():
        if (name,) in counters:
            yield CounterMetricFamily(name, documentation, value=counters[name,])
