"""The app's log lines as a test reads them: what the handler app.core.logging installs writes, captured."""

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CapturedLog", "captured_log"]


@dataclass
class CapturedLog:
    output: io.StringIO = field(default_factory=io.StringIO)

    @property
    def lines(self) -> list[str]:
        return [line for line in self.output.getvalue().splitlines() if line.strip()]

    def records(self, logger: str | None = None) -> list[dict[str, Any]]:
        """The JSON lines (FORGE_LOG_FORMAT=json), in order: every logger's, or `logger`'s only."""
        parsed = [json.loads(line) for line in self.lines if line.startswith("{")]
        return [record for record in parsed if logger is None or record.get("logger") == logger]


@contextmanager
def captured_log() -> Iterator[CapturedLog]:
    """Everything the app's log handler writes inside the block. The handler is the one the last `create_app`
    configured: enter after making the app."""
    root = logging.getLogger()
    [handler] = [h for h in root.handlers if h.get_name() == "forgeapi"]
    assert isinstance(handler, logging.StreamHandler)
    captured = CapturedLog()
    previous = handler.setStream(captured.output)
    try:
        yield captured
    finally:
        handler.setStream(previous)
