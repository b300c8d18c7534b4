"""The request pipeline on its own: the order it runs its units' hooks in, refusals before and during the body,
and the last-resort 500, around a bare ASGI app (each unit has tests of its own, next to this file)."""

import json
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from app.core.exceptions import ConflictError, ForgeError, PayloadTooLargeError
from app.shared.pipeline import RawHeaders, RequestCycle, RequestPipeline, RequestUnit

type App = Callable[[Scope, Receive, Send], Awaitable[None]]


class Recorder(RequestUnit):
    """Writes each hook it is called with into `calls`, as `name.hook`; refuses when told to."""

    def __init__(self, name: str, calls: list[str], *, refuse: ForgeError | None = None) -> None:
        self.name, self.calls, self.refusal = name, calls, refuse

    def enter(self, cycle: RequestCycle) -> None:  # noqa: ARG002
        self.calls.append(f"{self.name}.enter")

    async def admit(self, cycle: RequestCycle) -> ForgeError | None:  # noqa: ARG002
        self.calls.append(f"{self.name}.admit")
        return self.refusal

    def response_headers(self, cycle: RequestCycle, headers: RawHeaders) -> None:
        self.calls.append(f"{self.name}.response_headers {cycle.status}")
        headers.append((b"x-unit", self.name.encode()))

    def leave(self, cycle: RequestCycle) -> None:
        self.calls.append(f"{self.name}.leave {cycle.status}")


class HeadersOnly(RequestUnit):
    """Overrides one hook: the pipeline must call no other of its (default) hooks."""

    def response_headers(self, cycle: RequestCycle, headers: RawHeaders) -> None:  # noqa: ARG002
        headers.append((b"x-headers-only", b"1"))


class Limit(RequestUnit):
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    def received(self, cycle: RequestCycle, message: Message) -> ForgeError | None:  # noqa: ARG002
        return PayloadTooLargeError("too long") if cycle.body_bytes_read > self.max_bytes else None


def answering(calls: list[str]) -> App:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append("app")
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                calls.append("app saw the client gone")
                raise OSError("the client went away")  # what a route reading the body by hand would raise
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"read %d bytes" % len(body)})

    return app


def crashing(*, after_start: bool) -> App:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if after_start:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("SELECT secret FROM users")  # nothing of it may reach the client

    return app


def client(app: App, *units: RequestUnit) -> httpx.AsyncClient:
    pipeline = RequestPipeline(app, units=units)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=pipeline), base_url="http://testserver")


async def test_units_enter_in_order_and_leave_in_reverse_with_the_response_in_between() -> None:
    calls: list[str] = []
    async with client(answering(calls), Recorder("a", calls), HeadersOnly(), Recorder("b", calls)) as http:
        response = await http.get("/")

    assert calls == [
        "a.enter",
        "b.enter",
        "a.admit",
        "b.admit",
        "app",
        "a.response_headers 200",
        "b.response_headers 200",
        "b.leave 200",
        "a.leave 200",
    ]
    assert response.headers.get_list("x-unit") == ["a", "b"]
    assert response.headers["x-headers-only"] == "1"


async def test_the_first_refusal_answers_and_later_units_are_not_asked_but_every_unit_leaves() -> None:
    calls: list[str] = []
    refusing = Recorder("a", calls, refuse=ConflictError("no"))
    async with client(answering(calls), refusing, Recorder("b", calls)) as http:
        response = await http.get("/things")

    assert calls == [
        "a.enter",
        "b.enter",
        "a.admit",
        "a.response_headers 409",
        "b.response_headers 409",
        "b.leave 409",
        "a.leave 409",
    ]
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "no"
    assert response.headers.get_list("x-unit") == ["a", "b"]  # refusals carry the units' headers too


async def test_a_refusal_while_the_body_is_read_answers_at_once_closes_the_connection_and_drops_the_app() -> None:
    calls: list[str] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"x" * 10

    async with client(answering(calls), Limit(25), Recorder("a", calls)) as http:
        refused = await http.post("/", content=chunks())
        within = await http.post("/", content=b"x" * 25)

    assert refused.status_code == 413
    assert refused.headers["connection"] == "close"  # the rest of the body was never read
    assert refused.json()["detail"] == "too long"
    assert "app saw the client gone" in calls
    assert calls.count("a.leave 413") == 1  # and no log of the app's failure to read: it was expected
    assert (within.status_code, within.text) == (200, "read 25 bytes")


async def test_a_crash_is_a_500_problem_that_leaks_nothing() -> None:
    calls: list[str] = []
    async with client(crashing(after_start=False), Recorder("a", calls)) as http:
        response = await http.get("/")

    assert response.status_code == 500
    body = response.json()
    assert body["detail"] == "An unexpected error occurred; quote the request id."
    assert "SELECT" not in response.text
    assert calls[-1] == "a.leave 500"


async def test_a_crash_after_the_response_started_is_left_to_the_server() -> None:
    calls: list[str] = []
    async with client(crashing(after_start=True), Recorder("a", calls)) as http:
        # ASGITransport re-raises what the app raised, where a server closes the connection.
        with pytest.raises(RuntimeError, match="SELECT"):
            await http.get("/")
    assert calls[-1] == "a.leave 200"


async def test_other_scopes_pass_through_untouched() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    calls: list[str] = []
    pipeline = RequestPipeline(app, units=[Recorder("a", calls)])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        raise AssertionError(json.dumps(message))

    await pipeline({"type": "lifespan"}, receive, send)
    assert [scope["type"] for scope in seen] == ["lifespan"]
    assert calls == []
