"""A request's credentials are parsed once and verified once, whoever asks: the rate-limit gate, the idempotency
guard and `Authorized` share the request's caller (`app.features.auth.caller`)."""

import gc
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from starlette.types import Message

from app.core.api_keys import ApiKeyHasher
from app.core.context import AppContext
from tests import helpers
from tests.support.app import Running


@dataclass
class Calls:
    jwt_decodes: int = 0
    key_digests: int = 0


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Every JWT signature check (PyJWT's decode) and every API-key HMAC made from here on."""
    counted = Calls()

    def counting[**P, R](function: Callable[P, R], field: str) -> Callable[P, R]:
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            setattr(counted, field, getattr(counted, field) + 1)
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(jwt, "decode", counting(jwt.decode, "jwt_decodes"))
    monkeypatch.setattr(ApiKeyHasher, "digest", counting(ApiKeyHasher.digest, "key_digests"))
    return counted


class Counter:
    """A counter whose increments take an Idempotency-Key and `Authorized(api:write)`, and a user with a key."""

    def __init__(self, client: httpx.AsyncClient, increments: str, user: helpers.Headers, key: str) -> None:
        self.client, self.increments, self.user, self.key = client, increments, user, key

    async def increment(self, headers: helpers.Headers, idempotency_key: str) -> httpx.Response:
        sent = {**headers, "Idempotency-Key": idempotency_key}
        return await self.client.post(self.increments, json={"by": 1}, headers=sent)


@pytest.fixture
async def counter(context: AppContext, committing_client: httpx.AsyncClient, counters_path: str) -> Counter:
    admin = await helpers.committed_admin_headers(context, committing_client)
    created = await committing_client.post(counters_path, json={"name": "n", "ceiling": 100}, headers=admin)
    assert created.status_code == 201, created.text
    user = await helpers.user_headers(committing_client)
    issued = await committing_client.post("/api/v1/api-keys", json={"name": "k", "scopes": ["api:write"]}, headers=user)
    assert issued.status_code == 201, issued.text
    increments = f"{counters_path}/{created.json()['id']}/increments"
    return Counter(committing_client, increments, user, issued.json()["key"])


def _passed_the_limiter(response: httpx.Response) -> None:
    assert "ratelimit" in response.headers, "the global rate limit did not count this request"


async def test_a_bearer_request_checks_its_token_once_through_limiter_idempotency_and_authorized(
    counter: Counter, calls: Calls
) -> None:
    response = await counter.increment(counter.user, "bearer-1")
    assert response.status_code == 201, response.text
    _passed_the_limiter(response)
    assert (calls.jwt_decodes, calls.key_digests) == (1, 0)


async def test_an_api_key_request_hashes_its_key_once(counter: Counter, calls: Calls) -> None:
    response = await counter.increment({"X-API-Key": counter.key}, "key-1")
    assert response.status_code == 201, response.text
    _passed_the_limiter(response)
    assert (calls.jwt_decodes, calls.key_digests) == (0, 1)


async def test_an_anonymous_request_verifies_nothing(counter: Counter, calls: Calls) -> None:
    refused = await counter.increment({}, "anonymous-1")
    assert refused.status_code == 401
    _passed_the_limiter(refused)
    assert (calls.jwt_decodes, calls.key_digests) == (0, 0)


async def test_a_replayed_bearer_request_checks_its_token_once_too(counter: Counter, calls: Calls) -> None:
    await counter.increment(counter.user, "bearer-2")
    replayed = await counter.increment(counter.user, "bearer-2")
    assert replayed.headers["idempotent-replayed"] == "true"
    assert calls.jwt_decodes == 2  # one per request


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"Authorization": "Bearer not-a-token"}, (1, 0), id="a bad token: one failed check"),
        pytest.param({"X-API-Key": "fgk_not-well-formed"}, (0, 0), id="a malformed key: refused on its format"),
    ],
)
async def test_bad_credentials_are_checked_at_most_once(
    counter: Counter, calls: Calls, headers: dict[str, Any], expected: tuple[int, int]
) -> None:
    refused = await counter.increment(headers, "bad-1")
    assert refused.status_code == 401
    assert (calls.jwt_decodes, calls.key_digests) == expected


class _Probe:
    """Something weakly referable to put in a request's scope: it is freed when the scope is."""


@pytest.fixture
def without_garbage_collector() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def _served_once(started: Running, headers: list[tuple[bytes, bytes]]) -> tuple[Message, weakref.ref[_Probe]]:
    """One GET of the client configuration, straight through ASGI; its response's start, and a weak reference to a
    probe its scope held."""
    probe = _Probe()
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/config",
        "raw_path": b"/api/v1/config",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "probe": probe,
    }
    starts: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            starts.append(message)

    await started.asgi(scope, receive, send)
    (start,) = starts
    return start, weakref.ref(probe)


@pytest.mark.usefixtures("without_garbage_collector")
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([], id="anonymous"),
        pytest.param([(b"authorization", b"Bearer not-a-token")], id="a bad token"),
        pytest.param([(b"x-api-key", b"fgk_not-well-formed")], id="a malformed key"),
    ],
)
async def test_a_limited_request_is_freed_as_it_ends(started: Running, headers: list[tuple[bytes, bytes]]) -> None:
    """The caller is kept in the scope's state; were it to refer back to the scope, every limited request would be
    a reference cycle that only the garbage collector frees (three times as many collections, 1.5 % of a request's
    instructions)."""
    start, probe = await _served_once(started, headers)
    assert start["status"] == 200
    assert any(name == b"ratelimit" for name, _ in start["headers"]), "the limiter did not count the request"
    assert probe() is None, "the request's scope outlived it: a reference cycle holds it"
