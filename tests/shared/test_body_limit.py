"""`BodyLimit`: a body over the limit is a 413, refused before the app when its length is declared, and the moment
it passes the limit when it is streamed (the pipeline's tests cover what happens to the connection then)."""

from collections.abc import AsyncIterator

import httpx
from starlette.types import Receive, Scope, Send

from app.shared.body_limit import BodyLimit
from app.shared.pipeline import RequestPipeline


def _limited(calls: list[int]) -> httpx.AsyncClient:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        read = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            read += len(message.get("body", b""))
            more = message.get("more_body", False)
        calls.append(read)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    pipeline = RequestPipeline(app, units=[BodyLimit(100)])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=pipeline), base_url="http://testserver")


async def _chunks(count: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"x" * size


async def test_a_declared_length_over_the_limit_is_refused_before_the_app_runs() -> None:
    calls: list[int] = []
    async with _limited(calls) as http:
        over = await http.post("/", content=b"x" * 101)
        at = await http.post("/", content=b"x" * 100)

    assert over.status_code == 413
    assert over.json()["detail"] == "The request body exceeds 100 bytes."
    assert at.status_code == 200
    assert calls == [100]  # the app ran once: for the body within the limit


async def test_a_streamed_body_is_counted_as_it_is_read() -> None:
    calls: list[int] = []
    async with _limited(calls) as http:
        over = await http.post("/", content=_chunks(11, 10))
        within = await http.post("/", content=_chunks(10, 10))

    assert over.status_code == 413
    assert within.status_code == 200
    assert calls == [100]


async def test_a_malformed_length_is_left_to_the_server() -> None:
    # Servers refuse it before the app; the unit neither crashes on it nor refuses for it.
    calls: list[int] = []
    async with _limited(calls) as http:
        answer = await http.post("/", content=b"x" * 5, headers={"content-length": "five"})
    assert answer.status_code == 200
