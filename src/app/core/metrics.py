"""Prometheus metrics: RED per route template, requests in flight, database pool use, rate-limit outcomes.

Every label has a bounded set of values, whatever clients send (a label fed from the request unchecked gives a
client a new series per request: 2,000 requests with made-up methods grew `/metrics` from 88 KB to 3.3 MB):
- `route`: the route template (`/api/v1/users/{user_id}`), never the raw path; `unmatched` when no route matched.
  Plain Starlette routes and mounts (the docs pages, `/openapi.json`, the docs' assets) count under their own
  template too: a mount's is its prefix and `{path}` (`/docs/static/{path}`), never the file asked for.
- `method`: the methods of RFC 9110 and PATCH; any other (`X123456`, `get`) is `OTHER`.
- `status`: the registered HTTP status codes and 499 (a client gone before the answer); any other from 100 to 599
  is its class (`2xx`), anything else `other`.

Counters that other components already keep (the rate limiter's rejections, whose `policy` label is one of its
configured policies, and the pool's connections) are read at scrape time, so they cost nothing per request.
"""

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from http import HTTPMethod, HTTPStatus
from itertools import accumulate
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.pool import Pool, QueuePool
from starlette.routing import BaseRoute, Mount, Route

from app.core.ratelimit import RateLimiter

__all__ = [
    "CONTENT_TYPE",
    "METHOD_LABELS",
    "ROUTE_TEMPLATE_STATE",
    "STATUS_LABELS",
    "HttpMetrics",
    "Metrics",
    "route_template",
    "state_readings",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED = "unmatched"
OTHER_METHOD = "OTHER"
OTHER_STATUS = "other"
# Methods are case-sensitive (RFC 9110 section 9.1): `get` is not GET, and counts as OTHER.
_KNOWN_METHODS = frozenset(method.value for method in HTTPMethod)
METHOD_LABELS = _KNOWN_METHODS | {OTHER_METHOD}
CLIENT_GONE = 499  # nginx's code for a client that closed the connection before any answer; not registered
_REGISTERED = {status.value for status in HTTPStatus} | {CLIENT_GONE}
# Every status of the five classes RFC 9110 defines, mapped to its label ahead of time, so that a request pays one
# dict lookup and no Python call for it (the per-request cost of metrics: docs/performance.md).
_STATUS_LABELS = {status: str(status) if status in _REGISTERED else f"{status // 100}xx" for status in range(100, 600)}
STATUS_LABELS = frozenset(_STATUS_LABELS.values()) | {OTHER_STATUS}
# A route that dispatches further (the dynamic endpoints' catch-all) names the template it served here, in
# `scope["state"]`: its own template would lump every dynamic endpoint together.
ROUTE_TEMPLATE_STATE = "route_template"
# Seconds; from a cache hit to a slow database query.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def route_template(
    scope: Mapping[str, Any], api_prefix: str, plain: dict[int, tuple[object, str]] | None = None
) -> str:
    """The matched route's template. Routes included under the API prefix report their path without it.

    `plain` keeps the templates found for plain Starlette routes, by endpoint, from one call to the next.
    """
    template = scope.get("state", {}).get(ROUTE_TEMPLATE_STATE)
    if isinstance(template, str):
        return template
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return _plain_route_template(scope, {} if plain is None else plain)
    if scope["path"].startswith(api_prefix) and not path.startswith(api_prefix):
        return api_prefix + path
    return path


# FastAPI's router puts `route` in the scope for its own routes only; a plain Starlette Route or Mount leaves just
# its `endpoint` (a Mount's is the mounted app). Its template is found once, by identity among the router's routes,
# and kept by the app's metrics: the endpoints are the routes' own objects, so that holds one entry per route.
def _plain_route_template(scope: Mapping[str, Any], known_templates: dict[int, tuple[object, str]]) -> str:
    endpoint = scope.get("endpoint")
    if endpoint is None:
        return UNMATCHED
    known = known_templates.get(id(endpoint))
    if known is not None and known[0] is endpoint:  # the id of a collected object may be reused
        return known[1]
    template = _find_template(getattr(scope.get("router"), "routes", ()), endpoint, "") or UNMATCHED
    known_templates[id(endpoint)] = (endpoint, template)
    return template


def _find_template(routes: Iterable[BaseRoute], endpoint: object, prefix: str) -> str | None:
    for route in routes:
        if isinstance(route, Mount):
            if route.app is endpoint:
                return prefix + route.path_format  # `/docs/static/{path}`
            found = _find_template(route.routes, endpoint, prefix + route.path)
            if found is not None:
                return found
        elif isinstance(route, Route) and route.endpoint is endpoint:
            return prefix + route.path_format
    return None


class HttpMetrics:
    """What the request middleware records per request: plain counts, turned into Prometheus series at scrape time.

    prometheus_client's Counter, Gauge and Histogram take a lock on every update, five per request (about 7 us
    together on this machine, several per cent of a fast endpoint). These are only updated by the middleware, on
    the event loop's thread, so plain arithmetic needs no lock, and reading them at scrape time costs nothing per
    request. The series are the same: `http_requests_total`, `http_request_errors_total` (derived from the 5xx
    counts), `http_request_duration_seconds`, `http_requests_in_flight`.
    """

    def __init__(self, registry: CollectorRegistry, api_prefix: str) -> None:
        self.api_prefix = api_prefix
        self.plain_templates: dict[int, tuple[object, str]] = {}  # endpoint id -> (endpoint, template)
        self.in_flight = 0
        self.requests: dict[tuple[str, str, str], int] = {}  # (method, route, status label) -> count
        # (method, route) -> [count per bucket (not cumulative), the last one +Inf], and the sum of the durations
        self.durations: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
        registry.register(_HttpCollector(self))

    def started(self) -> None:
        self.in_flight += 1

    def finished(self, scope: Mapping[str, Any], status: int, seconds: float) -> None:
        self.in_flight -= 1
        method = scope["method"]
        if method not in _KNOWN_METHODS:
            method = OTHER_METHOD
        route = route_template(scope, self.api_prefix, self.plain_templates)
        key = (method, route, _STATUS_LABELS.get(status, OTHER_STATUS))
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.durations.get((method, route))
        if histogram is None:
            histogram = self.durations[method, route] = ([0] * (len(_BUCKETS) + 1), [0.0])
        counts, total = histogram
        counts[bisect_left(_BUCKETS, seconds)] += 1  # the first bound >= seconds: Prometheus buckets are `le`
        total[0] += seconds


class _HttpCollector(Collector):
    def __init__(self, http: HttpMetrics) -> None:
        self._http = http

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        http = self._http
        requests = CounterMetricFamily(
            "http_requests", "HTTP requests by route template and status.", labels=["method", "route", "status"]
        )
        errors = CounterMetricFamily(
            "http_request_errors", "HTTP requests answered with a 5xx status.", labels=["method", "route"]
        )
        server_errors: dict[tuple[str, str], int] = {}
        for (method, route, status), count in list(http.requests.items()):
            requests.add_metric([method, route, status], count)
            if status[0] == "5":  # `503` or `5xx`
                server_errors[method, route] = server_errors.get((method, route), 0) + count
        for labels, count in server_errors.items():
            errors.add_metric(list(labels), count)
        durations = HistogramMetricFamily(
            "http_request_duration_seconds", "Time from request to the end of the response.", labels=["method", "route"]
        )
        for (method, route), (counts, total) in list(http.durations.items()):
            cumulative = list(accumulate(counts))
            buckets = [(repr(bound), cumulative[i]) for i, bound in enumerate(_BUCKETS)]
            durations.add_metric([method, route], [*buckets, ("+Inf", cumulative[-1])], sum_value=total[0])
        yield requests
        yield errors
        yield durations
        yield GaugeMetricFamily("http_requests_in_flight", "Requests being served now.", value=http.in_flight)


def state_readings(*, pool: Pool | None, limiter: RateLimiter | None) -> dict[str, Any]:
    """Counters and gauges that live elsewhere (the pool, the rate limiter), read now; absent parts are left out."""
    readings: dict[str, Any] = {}
    if isinstance(pool, QueuePool):
        readings["db_pool_connections_in_use"] = pool.checkedout()
        readings["db_pool_size"] = pool.size()
        readings["db_pool_overflow"] = max(pool.overflow(), 0)
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
    """The counters that live elsewhere (`state_readings`), as read for one scrape."""

    def __init__(self, readings: Mapping[str, Any]) -> None:
        self._readings = readings

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        readings = self._readings
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

    def __init__(self, *, api_prefix: str) -> None:
        self.registry = CollectorRegistry()
        self.http = HttpMetrics(self.registry, api_prefix)

    def render(self, readings: Mapping[str, Any]) -> bytes:
        """The exposition text: the HTTP metrics, then `readings` (the caller's `state_readings`)."""
        scraped = CollectorRegistry(auto_describe=False)
        scraped.register(_StateCollector(readings))
        return generate_latest(self.registry) + generate_latest(scraped)
