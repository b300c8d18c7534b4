"""A worker's readiness: whether its rounds reach the queue, logged and counted as it changes."""

import structlog

from app.core.metrics import JobMetrics

__all__ = ["Readiness"]

_log = structlog.get_logger("app.jobs")


class Readiness:
    """Each round's statements are noted; after a round that ran any, the worker is ready if all succeeded and
    unready if one failed (the database is down). `job_worker_ready` thus follows a whole round, claim included."""

    def __init__(self, worker_id: str, metrics: JobMetrics | None) -> None:
        self._worker_id = worker_id
        self._metrics = metrics
        self.reaching: bool | None = None  # did the last round reach the queue (None: none has yet)
        self._round: list[BaseException | None] = []  # this round's statements: None for each that succeeded

    def noted(self, error: BaseException | None = None) -> None:
        """A statement of this round succeeded, or failed with `error`."""
        self._round.append(error)

    def end_round(self) -> None:
        if not self._round:
            return
        error = next((failure for failure in self._round if failure is not None), None)
        self._round.clear()
        reaching = error is None
        if reaching == self.reaching:
            return
        self.reaching = reaching
        if error is None:
            _log.info("job_worker_ready", worker=self._worker_id)
        else:
            _log.warning("job_worker_unready", worker=self._worker_id, reason=f"{type(error).__name__}: {error}")
        if self._metrics is not None:
            self._metrics.ready(reaching)

    def ended(self) -> None:
        """The worker stops (or its loop failed): no longer counted ready, whatever its last round did."""
        if self._metrics is not None:
            self._metrics.ready(False)
