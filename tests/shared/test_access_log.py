"""`AccessLog`: one `request` line per request, with the request's id, at INFO and above only."""

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from tests.support.app import running
from tests.support.settings import BASE_URL, make_settings


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """What the app's log handler writes, once `create_app` has installed it."""
    output = io.StringIO()
    yield output
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "forgeapi"]:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)


async def _requests(database_url: str, output: io.StringIO, level: str) -> list[httpx.Response]:
    app = create_app(make_settings(database_url, log_format="json", log_level=level))
    [handler] = [h for h in logging.getLogger().handlers if h.get_name() == "forgeapi"]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(output)
    async with (
        running(app) as started,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as http,
    ):
        return [await http.get("/healthz"), await http.get("/api/v1/no-such-route?secret=1")]


def _access_lines(output: io.StringIO) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in output.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line.get("event") == "request"]


async def test_one_line_per_request_with_its_id(
    database_url: str, engine: AsyncEngine, log_stream: io.StringIO
) -> None:
    del engine  # requested for the migrated schema
    found, missing = await _requests(database_url, log_stream, "INFO")

    lines = _access_lines(log_stream)
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/healthz", 200),
        ("GET", "/api/v1/no-such-route", 404),  # the path without its query, which may carry secrets
    ]
    assert [line["request_id"] for line in lines] == [found.headers["x-request-id"], missing.headers["x-request-id"]]
    assert all(isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0 for line in lines)


async def test_no_line_below_info(database_url: str, engine: AsyncEngine, log_stream: io.StringIO) -> None:
    del engine
    await _requests(database_url, log_stream, "WARNING")
    assert _access_lines(log_stream) == []
