"""What the app's log handler writes, captured: for tests that read the log lines of real requests."""

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["CapturedLog", "captured_log"]


class CapturedLog:
    def __init__(self) -> None:
        self.output = io.StringIO()

    def lines(self) -> list[str]:
        return [line for line in self.output.getvalue().splitlines() if line.strip()]

    def records(self) -> list[dict[str, Any]]:
        """Every line, parsed: the app must log JSON (`log_format="json"`)."""
        return [json.loads(line) for line in self.lines()]

    def security_events(self) -> list[dict[str, Any]]:
        return [record for record in self.records() if record.get("logger") == "app.security"]


@contextmanager
def captured_log() -> Iterator[CapturedLog]:
    """Everything the app's log handler writes meanwhile, structlog's lines and the stdlib loggers' alike. The app
    must have been created (creating it installs the handler); the handler is removed afterwards, as the next app
    installs its own."""
    root = logging.getLogger()
    [handler] = [h for h in root.handlers if h.get_name() == "forgeapi"]
    assert isinstance(handler, logging.StreamHandler)
    captured = CapturedLog()
    handler.setStream(captured.output)
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        root.setLevel(logging.WARNING)
