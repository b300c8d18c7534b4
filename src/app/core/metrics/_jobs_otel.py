"""The job metrics as OpenTelemetry instruments, exported over OTLP with the spans when metrics are on there.

Each process exports its own (OpenTelemetry's way): the back end sums the counters over processes, and takes the
largest `jobs.due` (every worker counts the same table).
"""

from collections.abc import Iterable, Sequence

from opentelemetry.metrics import CallbackOptions, Meter, Observation

__all__ = ["JobInstruments"]


class JobInstruments:
    """Counters and a histogram updated as the jobs run; the two gauges read when the exporter collects."""

    def __init__(self, meter: Meter, *, buckets: Sequence[float]) -> None:
        self._enqueued = meter.create_counter("jobs.enqueued", unit="{job}", description="Jobs enqueued (committed).")
        self._attempts = meter.create_counter(
            "jobs.attempts", unit="{attempt}", description="Job attempts by type and outcome."
        )
        self._expired = meter.create_counter(
            "jobs.leases_expired", unit="{job}", description="Jobs whose worker's lease ran out, reaped."
        )
        self._delay = meter.create_histogram(
            "jobs.start_delay",
            unit="s",
            description="Time from a job being due to its start.",
            explicit_bucket_boundaries_advisory=buckets,
        )
        self.due: int | None = None
        self.ready: bool | None = None
        meter.create_observable_gauge("jobs.due", [self._observe_due], unit="{job}", description="Jobs due, waiting.")
        meter.create_observable_gauge(
            "jobs.workers_ready", [self._observe_ready], unit="{worker}", description="Job workers reaching the queue."
        )

    def enqueued(self, job_type: str, count: int) -> None:
        self._enqueued.add(count, {"job.type": job_type})

    def attempt(self, job_type: str, outcome: str) -> None:
        self._attempts.add(1, {"job.type": job_type, "job.outcome": outcome})

    def started(self, job_type: str, waited_seconds: float) -> None:
        self.attempt(job_type, "started")
        self._delay.record(waited_seconds)  # no attributes, as in Prometheus

    def lease_expired(self, job_type: str) -> None:
        self._expired.add(1, {"job.type": job_type})

    def _observe_due(self, _options: CallbackOptions) -> Iterable[Observation]:
        return [] if self.due is None else [Observation(self.due)]

    def _observe_ready(self, _options: CallbackOptions) -> Iterable[Observation]:
        return [] if self.ready is None else [Observation(int(self.ready))]
