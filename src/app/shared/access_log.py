"""`AccessLog`: one `request` line per request, with its method, path, status, duration and client address."""

import logging
import time

import structlog

from app.shared.pipeline import RequestCycle, RequestUnit

__all__ = ["AccessLog"]

_access_log = structlog.get_logger("app.access")
# Asked before building the line: structlog would drop it below INFO too, but only after the call and its keyword
# arguments were paid for, on every request.
_access_log_level = logging.getLogger("app.access")


class AccessLog(RequestUnit):
    def leave(self, cycle: RequestCycle) -> None:
        if not _access_log_level.isEnabledFor(logging.INFO):
            return
        scope = cycle.scope
        _access_log.info(
            "request",
            method=scope["method"],
            path=scope["path"],
            status=cycle.status,
            duration_ms=round((time.perf_counter() - cycle.started_at) * 1000, 2),
            client=scope["client"][0] if scope.get("client") else None,
        )
