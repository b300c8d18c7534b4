"""What the request middleware records per request, and how a scrape turns every worker's records into series."""

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from itertools import accumulate
from typing import Any, NamedTuple

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from app.core.metrics._labels import KNOWN_METHODS, OTHER_METHOD, OTHER_STATUS, STATUS_LABEL, route_template
from app.core.metrics._shard import STARTED, Shard, ShardReading

__all__ = ["HttpMetrics", "RequestCounts", "http_families", "request_counts"]

# Seconds; from a cache hit to a slow database query.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Per (method, route, status): a count per bucket (not cumulative; the last one is +Inf), then the durations' sum.
_SUM = len(_BUCKETS) + 1
_WIDTH = _SUM + 1
HTTP = "http"


class HttpMetrics:
    """Per request, two additions to this worker's `Shard`, turned into Prometheus series at scrape time.

    prometheus_client's Counter, Gauge and Histogram take a lock on every update, five per request (about 7 us
    together on this machine, several per cent of a fast endpoint); in its multiprocess mode each update also
    packs its value into an mmap behind a lock. Here a request adds 1 to a bucket and its duration to a sum, in
    place, in an array that other workers can read (in memory when there are none): one series per (method, route,
    status) holds the histogram, its count is the request count, and every series is derived from those when
    scraped: `http_requests_total`, `http_request_errors_total` (the 5xx counts), `http_request_duration_seconds`
    (summed over statuses) and `http_requests_in_flight` (started minus finished).
    """

    def __init__(self, shard: Shard, api_prefix: str) -> None:
        self.api_prefix = api_prefix
        self.plain_templates: dict[int, tuple[object, str]] = {}  # endpoint id -> (endpoint, template)
        self._shard = shard
        self._series: dict[tuple[str, str, str], int] = {}  # (method, route, status label) -> its first value

    def started(self) -> None:
        self._shard.values[STARTED] += 1

    def finished(self, scope: Mapping[str, Any], status: int, seconds: float) -> None:
        method = scope["method"]
        if method not in KNOWN_METHODS:
            method = OTHER_METHOD
        route = route_template(scope, self.api_prefix, self.plain_templates)
        key = (method, route, STATUS_LABEL.get(status, OTHER_STATUS))
        first = self._series.get(key)
        if first is None:
            first = self._series[key] = self._shard.slot((HTTP, *key), _WIDTH)
        values = self._shard.values  # after `slot`, which may have replaced it with a larger one
        values[first + bisect_left(_BUCKETS, seconds)] += 1  # the first bound >= seconds: Prometheus buckets are `le`
        values[first + _SUM] += seconds


def http_families(
    shards: Iterable[ShardReading],
) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
    """The HTTP series of the whole server: counters summed over every worker, in flight over the living ones.
    None from processes that serve no requests (a `forge worker`)."""
    shards = list(shards)
    if not any(shard.started for shard in shards):
        return
    requests: dict[tuple[str, str, str], float] = {}
    histograms: dict[tuple[str, str], list[float]] = {}
    in_flight = 0.0
    for shard in shards:
        finished = 0.0
        for key, values in shard.entries.items():
            if key[0] != HTTP:
                continue
            method, route, status = key[1:]
            count = sum(values[:_SUM])
            finished += count
            requests[method, route, status] = requests.get((method, route, status), 0.0) + count
            histogram = histograms.setdefault((method, route), [0.0] * _WIDTH)
            for i, value in enumerate(values):
                histogram[i] += value
        if shard.live:
            in_flight += shard.started - finished
    yield _requests_family(requests)
    yield _errors_family(requests)
    durations = HistogramMetricFamily(
        "http_request_duration_seconds", "Time from request to the end of the response.", labels=["method", "route"]
    )
    for (method, route), histogram in histograms.items():
        cumulative = list(accumulate(histogram[:_SUM]))
        buckets = [(repr(bound), cumulative[i]) for i, bound in enumerate(_BUCKETS)]
        durations.add_metric([method, route], [*buckets, ("+Inf", cumulative[-1])], sum_value=histogram[_SUM])
    yield durations
    yield GaugeMetricFamily("http_requests_in_flight", "Requests being served now.", value=in_flight)


def _requests_family(requests: Mapping[tuple[str, str, str], float]) -> CounterMetricFamily:
    family = CounterMetricFamily(
        "http_requests", "HTTP requests by route template and status.", labels=["method", "route", "status"]
    )
    for labels, count in requests.items():
        family.add_metric(list(labels), count)
    return family


def _errors_family(requests: Mapping[tuple[str, str, str], float]) -> CounterMetricFamily:
    family = CounterMetricFamily(
        "http_request_errors", "HTTP requests answered with a 5xx status.", labels=["method", "route"]
    )
    server_errors: dict[tuple[str, str], float] = {}
    for (method, route, status), count in requests.items():
        if status[0] == "5":  # `503` or `5xx`
            server_errors[method, route] = server_errors.get((method, route), 0.0) + count
    for labels, count in server_errors.items():
        family.add_metric(list(labels), count)
    return family


class RequestCounts(NamedTuple):
    """Requests answered since the server started (every worker's), and how many with a 4xx or a 5xx status."""

    total: int
    client_errors: int
    server_errors: int


def request_counts(shards: Iterable[ShardReading]) -> RequestCounts:
    """The HTTP series' counts added up over every worker, as `http_requests_total` reports them."""
    total = client_errors = server_errors = 0.0
    for shard in shards:
        for key, values in shard.entries.items():
            if key[0] != HTTP:
                continue
            count = sum(values[:_SUM])
            total += count
            status_class = str(key[3])[0]
            if status_class == "4":
                client_errors += count
            elif status_class == "5":
                server_errors += count
    return RequestCounts(int(total), int(client_errors), int(server_errors))
