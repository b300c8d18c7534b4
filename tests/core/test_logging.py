"""Logs never carry secrets: not as structured values, not in the locals of a traceback."""

import json
import logging
from typing import Any

import pytest
import structlog

from app.core.logging import configure_logging
from tests.support.settings import make_settings

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
        assert "Traceback (most recent call last)" in captured  # Python's own format (rich's blocks the loop)
        assert "boom" in captured  # the traceback is there...
        assert SECRET not in captured  # ...without the password, in locals or in values
        assert "[redacted]" in captured
    finally:
        logging.getLogger().handlers.clear()


def _rendered_json(capsys: pytest.CaptureFixture[str], **values: Any) -> dict[str, Any]:
    configure_logging(make_settings("sqlite+aiosqlite:///unused.db", log_format="json", log_level="INFO"))
    try:
        structlog.get_logger("test").info("event", **values)
        [line] = capsys.readouterr().err.splitlines()
    finally:
        logging.getLogger().handlers.clear()
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def test_keys_naming_a_secret_are_redacted_at_any_depth(capsys: pytest.CaptureFixture[str]) -> None:
    request = {"headers": {"Authorization": SECRET, "Cookie": SECRET, "X-Api-Key": SECRET, "accept": "*/*"}}
    line = _rendered_json(
        capsys,
        client_secret=SECRET,
        api_key_pepper=SECRET,
        new_password=SECRET,
        request=request,
        attempts=[{"refresh_token": SECRET}, ("set-cookie", "visible")],
    )
    assert SECRET not in json.dumps(line)
    assert line["client_secret"] == line["api_key_pepper"] == line["new_password"] == "[redacted]"
    assert line["request"]["headers"] == {
        "Authorization": "[redacted]",
        "Cookie": "[redacted]",
        "X-Api-Key": "[redacted]",
        "accept": "*/*",
    }
    assert line["attempts"] == [{"refresh_token": "[redacted]"}, ["set-cookie", "visible"]]
    # The caller's own objects are left as they were.
    assert request["headers"]["Authorization"] == SECRET


def test_ids_and_types_of_secrets_are_kept(capsys: pytest.CaptureFixture[str]) -> None:
    # Logged on purpose (api_keys/repository.py logs api_key_id): they identify a secret without revealing it.
    line = _rendered_json(capsys, api_key_id=7, token_type="bearer", key_hint="fgk_…abcd", nested={"user_id": 3})
    assert line["api_key_id"] == 7
    assert line["token_type"] == "bearer"
    assert line["key_hint"] == "fgk_…abcd"
    assert line["nested"] == {"user_id": 3}


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_credentials_in_urls_are_redacted_whoever_logs_them(
    log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = (
        f"https://svc-user:{SECRET}@upstream.example/v1/data?page=2&access_token={SECRET}"
        f"&X-Amz-Signature={SECRET}&key={SECRET}"
    )
    configure_logging(make_settings("sqlite+aiosqlite:///unused.db", log_format=log_format, log_level="DEBUG"))
    try:
        logging.getLogger("a.library").warning("HTTP Request: GET %s", url)  # in the library's own words
        structlog.get_logger("test").warning("fetched", target=url)
        redis_url = f"redis://:{SECRET}@cache.internal:6379/0"
        logging.getLogger("another.library").error("cannot connect to %s", redis_url)
        captured = capsys.readouterr().err
    finally:
        logging.getLogger().handlers.clear()
    assert SECRET not in captured
    redacted = "https://[redacted]@upstream.example/v1/data?page=2&access_token=[redacted]&X-Amz-Signature=[redacted]"
    assert captured.count(redacted + "&key=[redacted]") == 2
    assert "redis://[redacted]@cache.internal:6379/0" in captured


@pytest.mark.parametrize(("service_level", "httpx_logged"), [("DEBUG", True), ("INFO", False)])
def test_httpx_logs_each_request_only_when_the_service_runs_at_debug(
    service_level: str, httpx_logged: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(make_settings("sqlite+aiosqlite:///unused.db", log_format="json", log_level=service_level))
    try:
        logging.getLogger("httpx").info('HTTP Request: GET https://upstream.example/ "HTTP/1.1 200 OK"')
        captured = capsys.readouterr().err
    finally:
        logging.getLogger().handlers.clear()
    assert ("HTTP Request" in captured) is httpx_logged


@pytest.mark.parametrize(("service_level", "statements_logged"), [("DEBUG", True), ("INFO", False), ("WARNING", False)])
def test_sql_statements_are_logged_at_debug_only_and_never_their_values(
    service_level: str, *, statements_logged: bool
) -> None:
    configure_logging(make_settings("sqlite+aiosqlite:///unused.db", log_level=service_level))
    try:
        for name in ("sqlalchemy.engine.Engine", "aiosqlite"):
            driver_or_engine = logging.getLogger(name)
            # SQLAlchemy writes statements at INFO and result rows at DEBUG; aiosqlite its calls' arguments at DEBUG.
            assert driver_or_engine.isEnabledFor(logging.INFO) is statements_logged, name
            assert not driver_or_engine.isEnabledFor(logging.DEBUG), name
    finally:
        logging.getLogger().setLevel(logging.WARNING)
