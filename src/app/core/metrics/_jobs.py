"""What a job worker records (attempts by type and outcome, how long due jobs waited to start, the queue's depth),
in the same shard as the HTTP metrics, and how a scrape turns every worker's records into series."""

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import accumulate

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from app.core.metrics._shard import Shard, ShardReading

__all__ = ["JOB_OUTCOMES", "JobMetrics", "job_families"]

# An attempt is started, then succeeded, failed (to be retried), dead (its last attempt failed) or released (its
# worker stopped before it finished).
JOB_OUTCOMES = ("started", "succeeded", "failed", "dead", "released")
# Seconds from a job being due to its start: from a worker woken at once to a backlog.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_SUM = len(_BUCKETS) + 1
_WIDTH = _SUM + 1
_ATTEMPTS = "jobs"
_DELAY = "job_start_delay"
_DEPTH = "jobs_due"


class JobMetrics:
    """One process's job counts: an addition in place per event, like the HTTP metrics. Job types are the
    registered ones, so the `type` label has a bounded set of values."""

    def __init__(self, shard: Shard) -> None:
        self._shard = shard

    def counted(self, job_type: str, outcome: str) -> None:
        shard = self._shard
        index = shard.slot((_ATTEMPTS, job_type, outcome), 1)
        shard.values[index] += 1

    def started(self, job_type: str, waited_seconds: float) -> None:
        self.counted(job_type, "started")
        shard = self._shard
        first = shard.slot((_DELAY,), _WIDTH)
        waited = max(waited_seconds, 0.0)
        shard.values[first + bisect_left(_BUCKETS, waited)] += 1
        shard.values[first + _SUM] += waited

    def due(self, count: int) -> None:
        """The jobs due and waiting for a worker, as this worker last counted them."""
        self._shard.set((_DEPTH,), count)


def job_families(
    shards: Iterable[ShardReading],
) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
    """Attempts and start delays summed over every worker; the queue's depth as the living workers last saw it
    (they count the same table, so their largest count, not their sum)."""
    attempts: dict[tuple[str, str], float] = {}
    delays = [0.0] * _WIDTH
    depth: float | None = None
    for shard in shards:
        for key, values in shard.entries.items():
            if key[0] == _ATTEMPTS:
                attempts[key[1], key[2]] = attempts.get((key[1], key[2]), 0.0) + values[0]
            elif key[0] == _DELAY:
                delays = [total + value for total, value in zip(delays, values, strict=True)]
            elif key[0] == _DEPTH and shard.live:
                depth = max(depth or 0.0, values[0])
    if attempts:
        family = CounterMetricFamily("jobs", "Job attempts by type and outcome.", labels=["type", "outcome"])
        for labels, count in sorted(attempts.items()):
            family.add_metric(list(labels), count)
        yield family
    if delays[_SUM] or any(delays[:_SUM]):
        cumulative = list(accumulate(delays[:_SUM]))
        histogram = HistogramMetricFamily("job_start_delay_seconds", "Time from a job being due to its start.")
        buckets = [(repr(bound), cumulative[i]) for i, bound in enumerate(_BUCKETS)]
        histogram.add_metric([], [*buckets, ("+Inf", cumulative[-1])], sum_value=delays[_SUM])
        yield histogram
    if depth is not None:
        yield GaugeMetricFamily("jobs_due", "Jobs due and waiting for a worker.", value=depth)
