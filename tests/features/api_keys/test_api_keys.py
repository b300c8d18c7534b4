"""API keys through the HTTP API: issue once, list without secrets, revoke, scopes, expiry, storage.

The keyed routes are the tests' own counters (tests/support/counters.py): `GET .../caller` takes `api:read`,
an increment takes `api:write`.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.features.api_keys.models import ApiKey
from tests import helpers
from tests.support import counters
from tests.support.accounts import set_email_verified

KEYS = "/api/v1/api-keys"
CALLER = f"{counters.PATH}/caller"


@pytest.fixture(autouse=True)
def _keyed_routes(counters_path: str) -> None:
    """The counters' routes on every test's app."""


async def issue(
    client: httpx.AsyncClient, headers: helpers.Headers, *, scopes: list[str], **extra: Any
) -> httpx.Response:
    return await client.post(KEYS, json={"name": "ci", "scopes": scopes, **extra}, headers=headers)


async def issued_key(client: httpx.AsyncClient, headers: helpers.Headers, *scopes: str) -> str:
    response = await issue(client, headers, scopes=list(scopes))
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def api_key(key: str) -> helpers.Headers:
    return {"X-API-Key": key}


async def test_a_key_is_shown_once_and_listed_without_its_secret(
    client: httpx.AsyncClient, user: helpers.Headers
) -> None:
    created = await issue(client, user, scopes=["api:read", "api:read"])
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith("fgk_")
    assert body["scopes"] == ["api:read"]
    assert body["hint"] == f"fgk_…{body['key'][-4:]}"
    listing = await client.get(KEYS, headers=user)
    assert listing.status_code == 200
    assert [k["id"] for k in listing.json()] == [body["id"]]
    assert body["key"] not in listing.text
    assert "key" not in listing.json()[0]


async def test_only_a_keyed_hash_is_stored(
    client: httpx.AsyncClient, user: helpers.Headers, db_session: AsyncSession
) -> None:
    key = await issued_key(client, user, "api:read")
    row = (await db_session.execute(select(ApiKey))).scalar_one()
    stored = " ".join(str(v) for v in (row.name, row.hint, row.scopes, row.key_hash.hex()))
    assert key not in stored
    assert key[4:-6] not in stored
    assert len(row.key_hash) == 32


async def test_a_scoped_key_reads_but_cannot_write(
    client: httpx.AsyncClient, user: helpers.Headers, counters_path: str
) -> None:
    reader = api_key(await issued_key(client, user, "api:read"))
    me = (await client.get("/api/v1/users/me", headers=user)).json()
    read = await client.get(CALLER, headers=reader)
    assert read.status_code == 200
    assert read.json()["user_id"] == me["id"]  # the key acts for its owner
    assert read.json()["api_key_id"] is not None
    refused = await client.post(f"{counters_path}/1/increments", json={"by": 1}, headers=reader)
    assert refused.status_code == 403
    assert "api:write" in refused.json()["detail"]


async def test_a_writer_key_writes_for_its_owner(
    client: httpx.AsyncClient, user: helpers.Headers, admin: helpers.Headers, counters_path: str
) -> None:
    created = (await client.post(counters_path, json={"name": "keyed"}, headers=admin)).json()
    writer = api_key(await issued_key(client, user, "api:write"))
    made = await client.post(f"{counters_path}/{created['id']}/increments", json={"by": 1}, headers=writer)
    assert made.status_code == 201, made.text
    assert made.json()["user_id"] == (await client.get("/api/v1/users/me", headers=user)).json()["id"]
    assert (await client.get(CALLER, headers=api_key(await issued_key(client, user, "api:write")))).status_code == 403


async def test_a_revoked_key_stops_working_at_once(client: httpx.AsyncClient, user: helpers.Headers) -> None:
    created = (await issue(client, user, scopes=["api:read"])).json()
    assert (await client.delete(f"{KEYS}/{created['id']}", headers=user)).status_code == 204
    response = await client.get(CALLER, headers=api_key(created["key"]))
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(KEYS, headers=user)).json()[0]["revoked_at"] is not None


async def test_another_users_key_cannot_be_revoked(client: httpx.AsyncClient, user: helpers.Headers) -> None:
    created = (await issue(client, user, scopes=["api:read"])).json()
    other = await helpers.user_headers(client)
    assert (await client.delete(f"{KEYS}/{created['id']}", headers=other)).status_code == 404
    assert (await client.get(CALLER, headers=api_key(created["key"]))).status_code == 200


async def test_an_expired_key_is_refused(
    client: httpx.AsyncClient, user: helpers.Headers, db_session: AsyncSession
) -> None:
    key = await issued_key(client, user, "api:read")
    await db_session.execute(
        ApiKey.__table__.update().values(expires_at=datetime.now(UTC) - timedelta(seconds=1))  # type: ignore[attr-defined]
    )
    await db_session.commit()
    assert (await client.get(CALLER, headers=api_key(key))).status_code == 401


@pytest.mark.parametrize(
    "expires_at",
    ["2000-01-01T00:00:00Z", "2999-01-01T00:00:00", "tomorrow", "9999-12-31T23:59:59-01:00", "2999-01-01T00:00:00Z"],
    ids=["past", "naive", "garbage", "beyond-datetime", "too-far"],
)
async def test_expiry_must_be_an_aware_future_datetime(
    client: httpx.AsyncClient, user: helpers.Headers, expires_at: str
) -> None:
    assert (await issue(client, user, scopes=["api:read"], expires_at=expires_at)).status_code == 422


@pytest.mark.parametrize("scopes", [[], ["api:delete"], ["admin"], "api:read"])
async def test_unknown_or_missing_scopes_are_422(client: httpx.AsyncClient, user: helpers.Headers, scopes: Any) -> None:
    assert (await issue(client, user, scopes=scopes)).status_code == 422


async def test_a_key_cannot_manage_keys(client: httpx.AsyncClient, user: helpers.Headers) -> None:
    key = api_key(await issued_key(client, user, "api:read", "api:write"))
    assert (await client.get(KEYS, headers=key)).status_code == 401
    assert (await issue(client, key, scopes=["api:read"])).status_code == 401


@pytest.mark.parametrize(
    "presented",
    ["fgk_" + "a" * 38, "not-a-key", "fgk_ünïcødé-ünïcødé-ünïcødé-ünïcødé-ünï", "x" * 5000],
    ids=["bad-checksum", "garbage", "non-ascii", "huge"],
)
async def test_malformed_keys_are_401_without_touching_the_database(
    client: httpx.AsyncClient, connection: AsyncConnection, presented: str
) -> None:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(connection.sync_connection, "before_cursor_execute", record)
    try:
        response = await client.get(CALLER, headers=[(b"x-api-key", presented.encode())])  # UTF-8 bytes on the wire
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", record)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert not [s for s in statements if "api_key" in s]


async def test_last_use_is_recorded_but_throttled(
    client: httpx.AsyncClient, user: helpers.Headers, db_session: AsyncSession
) -> None:
    key = api_key(await issued_key(client, user, "api:read"))
    await client.get(CALLER, headers=key)
    first = (await client.get(KEYS, headers=user)).json()[0]["last_used_at"]
    assert first is not None
    await client.get(CALLER, headers=key)
    assert (await client.get(KEYS, headers=user)).json()[0]["last_used_at"] == first
    await db_session.execute(text("UPDATE api_key SET last_used_at = NULL"))
    await db_session.commit()
    await client.get(CALLER, headers=key)
    assert (await client.get(KEYS, headers=user)).json()[0]["last_used_at"] is not None


async def test_a_deactivated_owners_keys_stop_working(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    owner = await helpers.register(client)
    owner_headers = helpers.bearer((await helpers.login(client, owner["email"]))["access_token"])
    key = api_key(await issued_key(client, owner_headers, "api:read"))
    await client.patch(f"/api/v1/users/{owner['id']}", json={"is_active": False}, headers=admin)
    assert (await client.get(CALLER, headers=key)).status_code == 401


async def test_the_api_key_header_is_in_openapi(client: httpx.AsyncClient) -> None:
    schemes = (await client.get("/openapi.json")).json()["components"]["securitySchemes"]
    assert any(s.get("type") == "apiKey" and s.get("name") == "X-API-Key" for s in schemes.values())


# --- FORGE_REQUIRE_VERIFIED_EMAIL --------------------------------------------------------------------------------


@pytest.mark.settings(require_verified_email=True)
async def test_with_verified_addresses_required_only_a_verified_user_issues_keys(
    client: httpx.AsyncClient, db_session: AsyncSession, user: helpers.Headers, admin: helpers.Headers
) -> None:
    refused = await issue(client, user, scopes=["api:read"])
    body = helpers.problem(refused, 403, "email-not-verified")
    assert "verify-email/resend" in body["detail"]
    assert (await client.get(KEYS, headers=user)).json() == []  # nothing issued; listing is still allowed

    await set_email_verified(client, db_session, user, verified=True)
    assert (await issue(client, user, scopes=["api:read"])).status_code == 201
    assert (await issue(client, admin, scopes=["api:read"])).status_code == 201  # create-admin's are verified


async def test_by_default_an_unverified_user_issues_keys(client: httpx.AsyncClient, user: helpers.Headers) -> None:
    assert (await client.get("/api/v1/users/me", headers=user)).json()["email_verified"] is False
    assert (await issue(client, user, scopes=["api:read"])).status_code == 201
