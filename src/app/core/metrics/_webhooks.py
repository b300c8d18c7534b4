"""What webhook deliveries record: each attempt's outcome, and how long its request took, in the shard of the
process that made it (a job worker), and over OTLP with the job metrics when there is a meter.

The one label, `outcome`, is one of WEBHOOK_OUTCOMES: never an endpoint's id or URL, which admins create without
bound (an endpoint's own record is its deliveries, `GET /api/v1/admin/webhooks/{id}/deliveries`).
"""

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import accumulate

from opentelemetry.metrics import Meter
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

from app.core.metrics._shard import Shard, ShardReading

__all__ = ["WEBHOOK_OUTCOMES", "WebhookMetrics", "webhook_families"]

# An attempt delivered the message (2xx), failed and will be retried, or failed for good (a final answer, a refused
# address, the last attempt).
WEBHOOK_OUTCOMES = ("delivered", "retried", "failed")
# Seconds of one attempt, resolution to the answer read: most within a second, the deadline at most 30 s.
_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SUM = len(_BUCKETS) + 1
_WIDTH = _SUM + 1
_DELIVERIES = "webhook_deliveries"
_DURATION = "webhook_delivery_duration"


class WebhookMetrics:
    """One process's webhook delivery counts, beside its job metrics (same shard, same meter)."""

    def __init__(self, shard: Shard, meter: Meter | None = None) -> None:
        self._shard = shard
        self._otel_count = self._otel_duration = None
        if meter is not None:
            self._otel_count = meter.create_counter(
                "webhooks.deliveries", unit="{attempt}", description="Webhook delivery attempts by outcome."
            )
            self._otel_duration = meter.create_histogram(
                "webhooks.delivery.duration",
                unit="s",
                description="How long a webhook delivery attempt took, resolution to the answer read.",
                explicit_bucket_boundaries_advisory=_BUCKETS,
            )

    def attempted(self, outcome: str, seconds: float | None) -> None:
        """An attempt's `outcome` (one of WEBHOOK_OUTCOMES); `seconds` when a request was made."""
        shard = self._shard
        shard.values[shard.slot((_DELIVERIES, outcome), 1)] += 1
        if self._otel_count is not None:
            self._otel_count.add(1, {"webhook.outcome": outcome})
        if seconds is None:
            return
        first = shard.slot((_DURATION,), _WIDTH)
        took = max(seconds, 0.0)
        shard.values[first + bisect_left(_BUCKETS, took)] += 1
        shard.values[first + _SUM] += took
        if self._otel_duration is not None:
            self._otel_duration.record(took)


def webhook_families(shards: Iterable[ShardReading]) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
    """The attempts by outcome and their durations, summed over every process."""
    counts: dict[str, float] = {}
    durations = [0.0] * _WIDTH
    for shard in shards:
        for key, values in shard.entries.items():
            if key[0] == _DELIVERIES:
                counts[key[1]] = counts.get(key[1], 0.0) + values[0]
            elif key[0] == _DURATION:
                durations = [total + value for total, value in zip(durations, values, strict=True)]
    if counts:
        family = CounterMetricFamily(_DELIVERIES, "Webhook delivery attempts by outcome.", labels=["outcome"])
        for outcome, count in sorted(counts.items()):
            family.add_metric([outcome], count)
        yield family
    if any(durations):
        cumulative = list(accumulate(durations[:_SUM]))
        histogram = HistogramMetricFamily(
            "webhook_delivery_duration_seconds", "How long a webhook delivery attempt took."
        )
        buckets = [(repr(bound), cumulative[i]) for i, bound in enumerate(_BUCKETS)]
        histogram.add_metric([], [*buckets, ("+Inf", cumulative[-1])], sum_value=durations[_SUM])
        yield histogram
