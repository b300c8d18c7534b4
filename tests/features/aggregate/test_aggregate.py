"""GET /api/v1/aggregate against real local upstreams: all or nothing, 502/504 naming the source, nothing leaked."""

import asyncio

import httpx
import pytest

from app.core.context import AppContext
from tests import helpers
from tests.support.otlp import OtlpReceiver
from tests.support.polling import eventually
from tests.support.upstreams import BOMB_BYTES, HUGE_BYTES, SECRET, Upstreams, gzip_bomb, hold, release

URL = "/api/v1/aggregate"
# Upper bound for what happens promptly (a disconnect seen by the server); never reached when things work.
PROMPTLY_SECONDS = 5


@pytest.mark.upstreams(weather="ok/weather", stock="ok/stock")
async def test_every_source_is_returned_by_name(
    client: httpx.AsyncClient, user: helpers.Headers, upstreams: Upstreams
) -> None:
    response = await client.get(URL, headers=user)
    assert response.status_code == 200, response.text
    assert response.json() == {"sources": {"weather": {"path": "/ok/weather"}, "stock": {"path": "/ok/stock"}}}
    [headers] = upstreams.headers_of("/ok/weather")
    assert "traceparent" not in headers  # tracing is off: the client is not instrumented


@pytest.mark.upstreams(a="together/a", b="together/b")
async def test_sources_are_fetched_concurrently(client: httpx.AsyncClient, user: helpers.Headers) -> None:
    # Each upstream answers only while the other request is in flight too: fetched one after the other, the
    # first would wait at the barrier until it broke and the aggregate would fail.
    response = await client.get(URL, headers=user)
    assert response.status_code == 200, response.text
    assert set(response.json()["sources"]) == {"a", "b"}


async def test_without_sources_the_aggregate_is_empty(client: httpx.AsyncClient, user: helpers.Headers) -> None:
    response = await client.get(URL, headers=user)
    assert response.status_code == 200
    assert response.json() == {"sources": {}}


@pytest.mark.upstreams(weather="ok/weather")
async def test_anonymous_callers_are_refused_before_any_upstream_is_called(
    client: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    helpers.problem(await client.get(URL), 401, "unauthenticated")
    assert upstreams.requests == []


@pytest.mark.upstreams(weather="ok/weather")
async def test_a_client_cannot_choose_what_is_fetched(
    client: httpx.AsyncClient, user: helpers.Headers, upstreams: Upstreams
) -> None:
    # API7 (SSRF): the operation has no parameters; whatever a client sends, only the allowlist is fetched.
    elsewhere = upstreams.url("ok/elsewhere")
    response = await client.get(URL, params={"url": elsewhere, "source": elsewhere, "weather": elsewhere}, headers=user)
    assert response.status_code == 200
    assert list(response.json()["sources"]) == ["weather"]
    assert [path for path, _ in upstreams.requests] == ["/ok/weather"]


# The deadline leaves the fast source ample time even on a loaded CI machine (a 0.3 s deadline once named it late
# too); the slow source never answers, so the test still waits exactly the deadline.
@pytest.mark.settings(aggregate_timeout=2)
@pytest.mark.upstreams(weather="ok/weather", stock="slow/stock")
async def test_a_source_slower_than_the_deadline_is_504_naming_it_and_is_abandoned(
    client: httpx.AsyncClient, user: helpers.Headers, upstreams: Upstreams
) -> None:
    body = helpers.problem(await client.get(URL, headers=user), 504, "upstream-timeout")
    assert body["sources"] == ["stock"]
    assert "'stock'" in body["detail"]
    assert "weather" not in body["detail"]  # it answered in time; only the late one is named
    assert await asyncio.to_thread(upstreams.disconnected["/slow/stock"].wait, PROMPTLY_SECONDS)


def _failing(kind: str, reason: str) -> object:
    return pytest.param(
        reason, marks=pytest.mark.upstreams(weather="ok/weather", inventory=f"{kind}/inventory"), id=kind
    )


@pytest.mark.settings(http_read_timeout=1, aggregate_timeout=60)
@pytest.mark.upstreams(weather="ok/weather", stock="slow/stock")
async def test_a_source_hitting_the_clients_own_read_timeout_is_504_too(
    client: httpx.AsyncClient, user: helpers.Headers
) -> None:
    body = helpers.problem(await client.get(URL, headers=user), 504, "upstream-timeout")
    assert body["sources"] == ["stock"]
    assert body["detail"] == "Upstream source 'stock' timed out."


@pytest.mark.parametrize(
    "reason",
    [
        _failing("fail", "answered HTTP 500"),
        _failing("malformed", "answered with a body that is not JSON"),
        _failing("nan", "answered with a body that is not JSON"),
        _failing("refused", "could not be read (connection failed)"),
        _failing("redirect", "answered HTTP 302"),
        _failing("huge-declared", "answered with more than 4096 bytes"),
        _failing("huge", "answered with more than 4096 bytes"),
        _failing("gzip-bomb", "answered with an encoded body (Content-Encoding other than identity)"),
    ],
)
@pytest.mark.settings(aggregate_max_bytes=4096)
async def test_a_failing_source_is_502_naming_it_without_leaking_the_upstream(
    client: httpx.AsyncClient, user: helpers.Headers, reason: str
) -> None:
    body = helpers.problem(await client.get(URL, headers=user), 502, "upstream-failed")
    assert body["sources"] == ["inventory"]
    assert body["detail"] == f"Upstream source 'inventory' {reason}."
    text = str(body)
    assert SECRET not in text  # the upstream's body is never echoed
    assert "127.0.0.1" not in text  # nor its configured (internal) URL


@pytest.mark.settings(aggregate_max_bytes=4096)
@pytest.mark.upstreams(feed="huge/feed")
async def test_a_huge_source_is_abandoned_at_the_cap_not_read_to_its_end(
    client: httpx.AsyncClient, user: helpers.Headers, upstreams: Upstreams
) -> None:
    helpers.problem(await client.get(URL, headers=user), 502, "upstream-failed")
    # The server learns the client hung up while it still had most of the body to send.
    assert await asyncio.to_thread(upstreams.disconnected["/huge/feed"].wait, PROMPTLY_SECONDS)
    await eventually(lambda: "/huge/feed" in upstreams.sent_bytes, seconds=5)
    assert upstreams.sent_bytes["/huge/feed"] < HUGE_BYTES // 4


# The bomb's 64 KiB are within the cap, and what they inflate to is 64 MiB: decoded chunk by chunk, a single chunk
# would be held inflated before the cap is checked. It is refused for its encoding instead, before it is read.
@pytest.mark.settings(aggregate_max_bytes=1024 * 1024)
@pytest.mark.upstreams(feed="gzip-bomb/feed")
async def test_a_compressed_source_is_refused_however_small_it_declares_itself(
    client: httpx.AsyncClient, user: helpers.Headers, upstreams: Upstreams
) -> None:
    assert len(gzip_bomb()) < 1024 * 1024 < BOMB_BYTES
    body = helpers.problem(await client.get(URL, headers=user), 502, "upstream-failed")
    assert body["sources"] == ["feed"]
    assert (
        body["detail"] == "Upstream source 'feed' answered with an encoded body (Content-Encoding other than identity)."
    )
    [headers] = upstreams.headers_of("/gzip-bomb/feed")
    assert headers["accept-encoding"] == "identity"  # we asked for identity; the upstream compressed anyway


@pytest.mark.settings(aggregate_timeout=60, http_max_connections=3)  # one connection per source, and no more
@pytest.mark.upstreams(stock="slow/stock", prices="slow/prices", inventory="fail/inventory")
async def test_the_first_failure_cancels_the_other_fetches_and_leaves_nothing_behind(
    context: AppContext, client: httpx.AsyncClient, user: helpers.Headers, upstreams: Upstreams
) -> None:
    tasks_before = asyncio.all_tasks()
    # The slow sources never answer and the deadline is a minute away: a 502 now means they were cancelled.
    body = helpers.problem(await client.get(URL, headers=user), 502, "upstream-failed")
    assert body["sources"] == ["inventory"]
    # Their connections were closed, and the upstream saw it...
    for path in ("/slow/stock", "/slow/prices"):
        assert await asyncio.to_thread(upstreams.disconnected[path].wait, PROMPTLY_SECONDS), path
    # ...no task of the request outlives it...
    leftover = [task for task in asyncio.all_tasks() - tasks_before if not task.done()]
    assert leftover == []
    # ...and the shared pool holds no connection still in use (idle keep-alive ones may stay for reuse): all three
    # of its connections can be had at once again.
    await release(upstreams, await hold(context.http_client, upstreams, 3, seconds=PROMPTLY_SECONDS))


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


# `otlp` comes before `context` in the arguments: the receiver exists (and the app exports to it) when the app is made.
@pytest.mark.settings(otel_exporter="otlp")
@pytest.mark.upstreams(weather="ok/weather")
async def test_the_callers_trace_continues_to_the_upstreams(
    otlp: OtlpReceiver,
    context: AppContext,
    client: httpx.AsyncClient,
    user: helpers.Headers,
    upstreams: Upstreams,
) -> None:
    traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"
    response = await client.get(URL, headers={**user, "traceparent": traceparent})
    assert response.status_code == 200, response.text
    [headers] = upstreams.headers_of("/ok/weather")
    _version, trace_id, parent_id, _flags = headers["traceparent"].split("-")
    assert trace_id == TRACE_ID  # the same trace...
    assert parent_id != PARENT_ID  # ...continued by our outbound request's own span
    assert context.telemetry is not None
    context.telemetry.tracer_provider.force_flush()
    [client_span] = [s for s in otlp.spans if s.span_id.hex() == parent_id]
    assert client_span.name == "GET"
    assert client_span.trace_id.hex() == TRACE_ID
