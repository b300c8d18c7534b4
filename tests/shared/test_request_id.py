"""`RequestId`: every request has an id, in `X-Request-ID` both ways, in problem bodies and in log lines."""

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from app.core.logging import REQUEST_ID
from app.shared.pipeline import RequestPipeline
from app.shared.request_id import RequestId


async def test_a_request_id_is_generated_and_returned(client: httpx.AsyncClient) -> None:
    first = (await client.get("/healthz")).headers["x-request-id"]
    second = (await client.get("/healthz")).headers["x-request-id"]
    assert len(first) == 32
    assert first != second


async def test_a_well_formed_incoming_request_id_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"x-request-id": "lb-7f3a9c:0042"})
    assert response.headers["x-request-id"] == "lb-7f3a9c:0042"


@pytest.mark.parametrize("bad", ["short", "has space in it", "x" * 129, "semi;colon-abcdef", "ünïcode-abcdef"])
async def test_a_malformed_incoming_request_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get("/healthz", headers=[(b"x-request-id", bad.encode())])
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


async def test_the_id_is_bound_for_the_request_only_and_quoted_by_its_problems(client: httpx.AsyncClient) -> None:
    seen: list[str | None] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(REQUEST_ID.get())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    pipeline = RequestPipeline(app, units=[RequestId()])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=pipeline), base_url="http://testserver") as http:
        answered = await http.get("/", headers={"x-request-id": "lb-7f3a9c:0042"})
    missing = await client.get("/api/v1/no-such-route", headers={"x-request-id": "lb-7f3a9c:0043"})

    assert seen == ["lb-7f3a9c:0042"]  # what log lines written during the request carry
    assert answered.headers["x-request-id"] == "lb-7f3a9c:0042"
    assert REQUEST_ID.get() is None  # not after it (httpx's transport runs the app in this very task)
    assert missing.json()["request_id"] == "lb-7f3a9c:0043"
