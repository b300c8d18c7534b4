"""What job workers and enqueuers record (jobs enqueued, attempts by type and outcome, leases expired, how long due
jobs waited to start, the queue's depth, whether the worker reaches the queue), in the same shard as the HTTP
metrics, and how a scrape turns every process's records into series.

Every `type` label is a job type's name, declared in code (`@job_type(name=...)`), never taken from a request: its
set of values is bounded by the app's job types.
"""

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import accumulate

from opentelemetry.metrics import Meter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from app.core.metrics._jobs_otel import JobInstruments
from app.core.metrics._shard import Shard, ShardReading
from app.core.metrics._webhooks import WebhookMetrics

__all__ = ["JOB_OUTCOMES", "JobMetrics", "job_families"]

# An attempt is started, then succeeded, failed (to be retried), dead (its last attempt failed) or released (its
# worker stopped before it finished). A job whose lease expired on its last attempt is counted dead by the reaper.
JOB_OUTCOMES = ("started", "succeeded", "failed", "dead", "released")
# Seconds from a job being due to its start: from a worker woken at once to a backlog.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_SUM = len(_BUCKETS) + 1
_WIDTH = _SUM + 1
_ATTEMPTS = "jobs"
_ENQUEUED = "jobs_enqueued"
_EXPIRED = "job_leases_expired"
_DELAY = "job_start_delay"
_DEPTH = "jobs_due"
_READY = "job_workers_ready"
_COUNTED_BY_TYPE = {
    _ENQUEUED: ("jobs_enqueued", "Jobs enqueued, counted when the enqueuing transaction commits."),
    _EXPIRED: ("job_leases_expired", "Jobs whose worker's lease ran out (the worker died), reaped."),
}


class JobMetrics:
    """One process's job counts: an addition in place per event, like the HTTP metrics; with a `meter`, the same
    facts go to OpenTelemetry instruments too (OTLP)."""

    def __init__(self, shard: Shard | None = None, meter: Meter | None = None) -> None:
        self._shard = shard if shard is not None else Shard()
        self._otel = JobInstruments(meter, buckets=_BUCKETS) if meter is not None else None
        self.webhooks = WebhookMetrics(self._shard, meter)  # recorded by the webhooks' delivery jobs

    def _add(self, key: tuple[str, ...], count: float = 1) -> None:
        shard = self._shard
        index = shard.slot(key, 1)
        shard.values[index] += count

    def enqueued(self, counts: Mapping[str, int]) -> None:
        """Jobs enqueued by type, by a transaction that has just committed."""
        for job_type, count in counts.items():
            self._add((_ENQUEUED, job_type), count)
            if self._otel is not None:
                self._otel.enqueued(job_type, count)

    def counted(self, job_type: str, outcome: str) -> None:
        self._add((_ATTEMPTS, job_type, outcome))
        if self._otel is not None and outcome != "started":  # `started` records its delay too
            self._otel.attempt(job_type, outcome)

    def started(self, job_type: str, waited_seconds: float) -> None:
        self.counted(job_type, "started")
        shard = self._shard
        first = shard.slot((_DELAY,), _WIDTH)
        waited = max(waited_seconds, 0.0)
        shard.values[first + bisect_left(_BUCKETS, waited)] += 1
        shard.values[first + _SUM] += waited
        if self._otel is not None:
            self._otel.started(job_type, waited)

    def lease_expired(self, job_type: str, *, dead: bool) -> None:
        """A job whose worker's lease ran out, reaped by this process: queued again, or `dead` on its last attempt."""
        self._add((_EXPIRED, job_type))
        if self._otel is not None:
            self._otel.lease_expired(job_type)
        if dead:
            self.counted(job_type, "dead")

    def due(self, count: int) -> None:
        """The jobs due and waiting for a worker, as this worker last counted them."""
        self._shard.set((_DEPTH,), count)
        if self._otel is not None:
            self._otel.due = count

    def ready(self, ready: bool) -> None:
        """Whether this process's worker reaches the queue (its last round's statements succeeded)."""
        self._shard.set((_READY,), float(ready))
        if self._otel is not None:
            self._otel.ready = ready


@dataclass
class _Totals:
    """The job entries of every shard, added up as a scrape reports them."""

    attempts: dict[tuple[str, str], float] = field(default_factory=dict)
    by_type: dict[str, dict[str, float]] = field(default_factory=lambda: {name: {} for name in _COUNTED_BY_TYPE})
    delays: list[float] = field(default_factory=lambda: [0.0] * _WIDTH)
    depth: float | None = None
    ready: float | None = None

    def add(self, shard: ShardReading) -> None:
        for key, values in shard.entries.items():
            name = key[0]
            if name == _ATTEMPTS:
                self.attempts[key[1], key[2]] = self.attempts.get((key[1], key[2]), 0.0) + values[0]
            elif name in self.by_type:
                counts = self.by_type[name]
                counts[key[1]] = counts.get(key[1], 0.0) + values[0]
            elif name == _DELAY:
                self.delays = [total + value for total, value in zip(self.delays, values, strict=True)]
            elif name == _DEPTH and shard.live:  # the workers count the same table: their largest count
                self.depth = max(self.depth or 0.0, values[0])
            elif name == _READY and shard.live:
                self.ready = (self.ready or 0.0) + values[0]


def job_families(
    shards: Iterable[ShardReading],
) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
    """Counts and start delays summed over every process; the queue's depth as the living workers last saw it (they
    count the same table, so their largest count, not their sum); the living workers that reach the queue."""
    totals = _Totals()
    for shard in shards:
        totals.add(shard)
    if totals.attempts:
        family = CounterMetricFamily("jobs", "Job attempts by type and outcome.", labels=["type", "outcome"])
        for labels, count in sorted(totals.attempts.items()):
            family.add_metric(list(labels), count)
        yield family
    for key, counts in totals.by_type.items():
        if counts:
            name, documentation = _COUNTED_BY_TYPE[key]
            counter = CounterMetricFamily(name, documentation, labels=["type"])
            for job_type, count in sorted(counts.items()):
                counter.add_metric([job_type], count)
            yield counter
    delays = totals.delays
    if delays[_SUM] or any(delays[:_SUM]):
        cumulative = list(accumulate(delays[:_SUM]))
        histogram = HistogramMetricFamily("job_start_delay_seconds", "Time from a job being due to its start.")
        buckets = [(repr(bound), cumulative[i]) for i, bound in enumerate(_BUCKETS)]
        histogram.add_metric([], [*buckets, ("+Inf", cumulative[-1])], sum_value=delays[_SUM])
        yield histogram
    if totals.depth is not None:
        yield GaugeMetricFamily("jobs_due", "Jobs due and waiting for a worker.", value=totals.depth)
    if totals.ready is not None:
        yield GaugeMetricFamily(_READY, "Living job workers whose last round reached the queue.", value=totals.ready)
