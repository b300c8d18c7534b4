"""Unverified credentials and the rate limiter (issue 24, item 2): made-up API keys and bad bearer tokens buy no
budget of their own, and failed authentications are limited per client address, before any key lookup.

Each test runs on the memory and the Redis backend, on both databases.
"""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.config import Settings
from app.core.api_keys import generate_api_key
from app.features.sessions.service import REFRESH_TOKENS
from tests import helpers
from tests.support import sessions
from tests.support.settings import make_settings, redis_url_or_skip

PUBLIC = "/api/v1/config"
ME = "/api/v1/users/me"
KEYS = "/api/v1/api-keys"
FAILURES_ALLOWED = 10


@pytest.fixture(params=["memory", "redis"])
def settings(database_url: str, request: pytest.FixtureRequest) -> Settings:
    # Per day: no allowance comes back while a test runs, however slow the machine (per hour, one came back every
    # 36 s, and 300 requests on a loaded CI machine took longer than that).
    overrides: dict[str, Any] = {
        "rate_limit_default": "100/day",
        "rate_limit_auth_failures": f"{FAILURES_ALLOWED}/day",
    }
    if request.param == "redis":
        overrides |= {
            "redis_url": redis_url_or_skip(),
            "redis_timeout_seconds": 5,  # under test: limits, not timeouts (a loaded machine would fail open)
            "rate_limit_key_prefix": f"forge-test:{uuid.uuid4().hex}:rl:",
        }
    marker = request.node.get_closest_marker("settings")
    if marker is not None:
        overrides.update(marker.kwargs)
    return make_settings(database_url, **overrides)


def _fake_key() -> dict[str, str]:
    return {"X-API-Key": generate_api_key()}  # well-formed, checksum and all, but never issued


def _fake_token() -> dict[str, str]:
    return helpers.bearer(f"eyJhbGciOiJIUzI1NiJ9.{uuid.uuid4().hex}.{uuid.uuid4().hex}")


FAKES = {"api-key": _fake_key, "bearer": _fake_token}


@pytest.fixture
def key_lookups(connection: AsyncConnection) -> Iterator[list[str]]:
    """The SQL statements that read the api_key table during the test."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        if "api_key" in str(args[2]):
            statements.append(str(args[2]))

    event.listen(connection.sync_connection, "before_cursor_execute", record)
    yield statements
    event.remove(connection.sync_connection, "before_cursor_execute", record)


async def _issue_key(client: httpx.AsyncClient, headers: helpers.Headers) -> tuple[int, dict[str, str]]:
    created = await client.post(KEYS, json={"name": "k", "scopes": ["api:read"]}, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()["id"], {"X-API-Key": created.json()["key"]}


@pytest.mark.parametrize("fake", FAKES)
async def test_fresh_made_up_credentials_share_their_senders_budget(client: httpx.AsyncClient, fake: str) -> None:
    statuses = [(await client.get(PUBLIC, headers=FAKES[fake]())).status_code for _ in range(300)]
    assert statuses == [200] * 100 + [429] * 200


async def test_made_up_keys_on_an_authenticated_route_get_429_after_the_failure_limit_without_a_lookup(
    client: httpx.AsyncClient, counters_path: str, key_lookups: list[str]
) -> None:
    responses = [await client.get(f"{counters_path}/caller", headers=_fake_key()) for _ in range(200)]
    statuses = [r.status_code for r in responses]
    assert statuses == [401] * FAILURES_ALLOWED + [429] * (200 - FAILURES_ALLOWED)
    assert len(key_lookups) == FAILURES_ALLOWED, "a refused attempt must not look its key up"
    refused = responses[FAILURES_ALLOWED]  # (from the 101st on, the global limit refuses first)
    assert refused.headers["content-type"] == helpers.PROBLEM_JSON
    assert refused.json()["type"] == "urn:forgeapi:problem:rate-limited"
    assert "auth_failures" in refused.json()["detail"]
    assert int(refused.headers["retry-after"]) >= 1


@pytest.mark.parametrize("path", [ME, "counters"])
async def test_bad_bearer_tokens_get_429_after_the_failure_limit(
    client: httpx.AsyncClient, counters_path: str, path: str
) -> None:
    url = f"{counters_path}/caller" if path == "counters" else path  # `Authorized` and `CurrentUser`
    statuses = [(await client.get(url, headers=_fake_token())).status_code for _ in range(30)]
    assert statuses == [401] * FAILURES_ALLOWED + [429] * (30 - FAILURES_ALLOWED)


async def test_a_real_key_gets_its_own_budget_once_verified_while_its_address_is_refused(
    client: httpx.AsyncClient, counters_path: str
) -> None:
    headers = await helpers.user_headers(client)  # two requests from this address
    _, key = await _issue_key(client, headers)
    assert (await client.get(f"{counters_path}/caller", headers=key)).status_code == 200  # verifies it
    for _ in range(97):
        await client.get(PUBLIC, headers=_fake_key())
    assert (await client.get(PUBLIC, headers=_fake_key())).status_code == 429
    keyed = await client.get(f"{counters_path}/caller", headers=key)
    assert keyed.status_code == 200
    assert keyed.headers["x-ratelimit-remaining"] == "99"
    # A valid bearer token is its user's budget, verified by its signature alone.
    assert (await client.get(ME, headers=headers)).status_code == 200


async def test_a_revoked_key_loses_its_budget_and_counts_as_a_failure(
    client: httpx.AsyncClient, counters_path: str
) -> None:
    headers = await helpers.user_headers(client)
    key_id, key = await _issue_key(client, headers)
    assert (await client.get(f"{counters_path}/caller", headers=key)).status_code == 200
    assert (await client.delete(f"{KEYS}/{key_id}", headers=headers)).status_code == 204
    refused = await client.get(f"{counters_path}/caller", headers=key)
    assert refused.status_code == 401
    assert '"auth_failures";r=9' in refused.headers["ratelimit"]
    # Back to its address's budget: register, login and the key's first use were the address's, and now this.
    again = await client.get(PUBLIC, headers=key)
    assert again.headers["x-ratelimit-remaining"] == str(100 - 4)


async def test_an_addresss_failures_do_not_hold_up_its_verified_key_or_valid_token(
    client: httpx.AsyncClient, counters_path: str
) -> None:
    headers = await helpers.user_headers(client)
    _, key = await _issue_key(client, headers)
    assert (await client.get(f"{counters_path}/caller", headers=key)).status_code == 200
    for _ in range(FAILURES_ALLOWED):
        await client.get(f"{counters_path}/caller", headers=_fake_key())
    assert (await client.get(f"{counters_path}/caller", headers=_fake_key())).status_code == 429
    # Verified in this process: not held up by its address's failures, and it spends none.
    assert (await client.get(f"{counters_path}/caller", headers=key)).status_code == 200
    assert (await client.get(ME, headers=headers)).status_code == 200


async def test_bad_refresh_tokens_get_429_after_the_failure_limit(client: httpx.AsyncClient) -> None:
    """Well-formed refresh tokens cost a lookup each: they spend their sender's failures like bad bearer tokens."""
    statuses = [(await sessions.refresh(client, REFRESH_TOKENS.generate())).status_code for _ in range(15)]
    assert statuses == [401] * FAILURES_ALLOWED + [429] * (15 - FAILURES_ALLOWED)


@pytest.mark.settings(session_refresh_grace_seconds=0)
async def test_a_reused_refresh_token_revokes_its_session_even_when_its_sender_has_no_failures_left(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    """The revocation is the point of that answer: the failure limit cannot turn it into a 429 that undoes it."""
    user = await helpers.register(client)
    stolen = await helpers.login(client, user["email"])
    thiefs = (await sessions.refresh(client, stolen["refresh_token"])).json()
    for _ in range(FAILURES_ALLOWED):
        await sessions.refresh(client, REFRESH_TOKENS.generate())
    assert (await sessions.refresh(client, REFRESH_TOKENS.generate())).status_code == 429  # no failures left
    reused = await sessions.refresh(client, stolen["refresh_token"])
    assert reused.status_code == 401, reused.text
    assert (await sessions.session_row(db_session, thiefs["access_token"])).revoked_at is not None
