"""`RequestMetrics`: each request counted in the HTTP metrics (`app.core.metrics`): in flight while it runs, then
by method, route template and status, with its duration."""

import time

from app.core.metrics import HttpMetrics
from app.shared.pipeline import RequestCycle, RequestUnit

__all__ = ["RequestMetrics"]

CLIENT_GONE = 499  # no response started: the client went away mid-request, counted as the 499 nginx would log


class RequestMetrics(RequestUnit):
    def __init__(self, metrics: HttpMetrics) -> None:
        self.metrics = metrics

    def enter(self, cycle: RequestCycle) -> None:  # noqa: ARG002 - counts the request, whichever it is
        self.metrics.started()

    def leave(self, cycle: RequestCycle) -> None:
        self.metrics.finished(cycle.scope, cycle.status or CLIENT_GONE, time.perf_counter() - cycle.started_at)
