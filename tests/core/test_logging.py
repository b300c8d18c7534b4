"""Logs never carry secrets: not as structured values, not in the locals of a traceback."""

import logging

import pytest
import structlog

from app.core.logging import configure_logging
from tests.conftest import make_settings

SECRET = "Correct-Horse-Battery-42"


def _fail_with_a_password_in_locals() -> None:
    password = SECRET
    raise RuntimeError("boom " + password[:0])


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_tracebacks_and_values_do_not_leak_passwords(log_format: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(make_settings("sqlite+aiosqlite:///unused.db", log_format=log_format, log_level="INFO"))
    try:
        log = structlog.get_logger("test")
        try:
            _fail_with_a_password_in_locals()
        except RuntimeError:
            log.exception("failed", password=SECRET, token=SECRET)
        captured = capsys.readouterr().err
        assert "boom" in captured  # the traceback is there...
        assert SECRET not in captured  # ...without the password, in locals or in values
        assert "[redacted]" in captured
    finally:
        logging.getLogger().handlers.clear()
