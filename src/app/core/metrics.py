"""Prometheus metrics: RED per route template, requests in flight, database pool use, rate-limit outcomes.

Label values are bounded by construction: route templates (`/api/v1/users/{user_id}`), never raw paths or
user ids; a request that matched no route is `unmatched`. Counters that other components already keep (the rate
limiter's rejections, the pool's connections) are read at scrape time, so they cost nothing per request.
"""

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.pool import QueuePool

__all__ = ["CONTENT_TYPE", "ROUTE_TEMPLATE_STATE", "HttpMetrics", "Metrics", "route_template", "state_readings"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED = "unmatched"
# A route that dispatches further (the dynamic endpoints' catch-all) names the template it served here, in
# `scope["state"]`: its own template would lump every dynamic endpoint together.
ROUTE_TEMPLATE_STATE = "route_template"
# Seconds; from a cache hit to a slow database query.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def route_template(scope: Mapping[str, Any], api_prefix: str) -> str:
    """The matched route's template. Routes included under the API prefix report their path without it."""
    template = scope.get("state", {}).get(ROUTE_TEMPLATE_STATE)
    if isinstance(template, str):
        return template
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    if scope["path"].startswith(api_prefix) and not path.startswith(api_prefix):
        return api_prefix + path
    return path


class HttpMetrics:
    """What the request middleware records per request; children are cached to keep that to a few dict lookups."""

    def __init__(self, registry: CollectorRegistry, api_prefix: str) -> None:
        self.api_prefix = api_prefix
        self.requests = Counter(
            "http_requests",
            "HTTP requests by route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.errors = Counter(
            "http_request_errors", "HTTP requests answered with a 5xx status.", ["method", "route"], registry=registry
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time from request to the end of the response.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge("http_requests_in_flight", "Requests being served now.", registry=registry)
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any | None]] = {}

    def observe(self, scope: Mapping[str, Any], status: int, seconds: float) -> None:
        method = scope["method"]
        route = route_template(scope, self.api_prefix)
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            errors = self.errors.labels(method, route) if status >= 500 else None  # noqa: PLR2004
            children = (self.requests.labels(method, route, str(status)), self.duration.labels(method, route), errors)
            self._children[key] = children
        requests, duration, errors = children
        requests.inc()
        duration.observe(seconds)
        if errors is not None:
            errors.inc()


def state_readings(state: Any) -> dict[str, Any]:
    """Counters and gauges that live elsewhere (the pool, the rate limiter), read now; absent parts are left out."""
    readings: dict[str, Any] = {}
    pool = getattr(getattr(getattr(state, "database", None), "engine", None), "pool", None)
    if isinstance(pool, QueuePool):
        readings["db_pool_connections_in_use"] = pool.checkedout()
        readings["db_pool_size"] = pool.size()
        readings["db_pool_overflow"] = max(pool.overflow(), 0)
    limiter = getattr(state, "rate_limiter", None)
    if limiter is not None:
        readings["rate_limit_rejections"] = dict(limiter.rejections_by_policy)
        readings["rate_limit_backend_failures"] = limiter.backend_failures
    return readings


_GAUGES = {
    "db_pool_connections_in_use": "Database connections checked out.",
    "db_pool_size": "Connections the pool keeps open (before overflow).",
    "db_pool_overflow": "Connections open beyond the pool size.",
}


class _StateCollector(Collector):
    """Reads counters that live elsewhere (the app's state) when Prometheus scrapes."""

    def __init__(self, state: Callable[[], Any]) -> None:
        self._state = state

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        readings = state_readings(self._state())
        for name, documentation in _GAUGES.items():
            if name in readings:
                yield GaugeMetricFamily(name, documentation, value=readings[name])
        if "rate_limit_rejections" in readings:
            rejections = CounterMetricFamily("rate_limit_rejections", "Requests refused with 429.", labels=["policy"])
            for policy, count in sorted(readings["rate_limit_rejections"].items()):
                rejections.add_metric([policy], count)
            yield rejections
            yield CounterMetricFamily(
                "rate_limit_backend_failures",
                "Rate-limit checks the backend did not answer.",
                value=readings["rate_limit_backend_failures"],
            )


class Metrics:
    """One registry per app (tests build many apps), with the HTTP metrics and the scrape-time collectors."""

    def __init__(self, *, api_prefix: str, state: Callable[[], Any]) -> None:
        self.registry = CollectorRegistry()
        self.http = HttpMetrics(self.registry, api_prefix)
        self.registry.register(_StateCollector(state))

    def render(self) -> bytes:
        return generate_latest(self.registry)
