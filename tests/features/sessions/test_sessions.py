"""Sessions through the HTTP API: rotation, reuse detection and its grace, idle and absolute lifetimes, logout,
listing and revoking, an administrator's sign-out, password changes and deactivation."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from tests import helpers
from tests.support.auth import assert_problem, assert_unauthenticated
from tests.support.sessions import (
    LOGOUT,
    ME,
    SESSIONS,
    access_works,
    login,
    move_back,
    move_spent_back,
    refresh,
    session_row,
)

REUSED_DETAIL = "The refresh token was used before: its session is revoked. Log in again."
PASSWORD = "/api/v1/users/me/password"
NEW_PASSWORD = "a brand new passphrase, 2026"


async def signed_in(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new user and the tokens of its first session."""
    user = await helpers.register(client)
    return user, await login(client, user["email"])


def past_grace(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.session_refresh_grace_seconds + 1)


# --- Rotation and reuse --------------------------------------------------------------------------------------


async def test_a_refresh_rotates_within_the_session(client: httpx.AsyncClient) -> None:
    _, first = await signed_in(client)
    response = await refresh(client, first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert helpers.session_id_of(second["access_token"]) == helpers.session_id_of(first["access_token"])
    assert await access_works(client, second["access_token"])
    assert await access_works(client, first["access_token"])  # the session lives: its older access tokens too
    assert (await refresh(client, second["refresh_token"])).status_code == 200


async def test_a_refresh_records_the_use_and_leaves_the_absolute_lifetime(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    _, tokens = await signed_in(client)
    await move_back(db_session, tokens["access_token"], last_used=timedelta(days=3), created=timedelta(days=3))
    before = await session_row(db_session, tokens["access_token"])
    used, created = before.last_used_at, before.created_at
    assert (await refresh(client, tokens["refresh_token"])).status_code == 200
    after = await session_row(db_session, tokens["access_token"])
    assert after.last_used_at > used + timedelta(days=2)
    assert after.created_at == created


async def test_a_rotated_refresh_token_presented_again_revokes_the_whole_session(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    _, first = await signed_in(client)
    second = (await refresh(client, first["refresh_token"])).json()
    await move_spent_back(db_session, first["access_token"], past_grace(settings))

    reused = await refresh(client, first["refresh_token"])
    assert assert_unauthenticated(reused)["detail"] == REUSED_DETAIL
    # The newest refresh token and every access token of the session stop working, on their next request.
    assert_unauthenticated(await refresh(client, second["refresh_token"]))
    assert not await access_works(client, second["access_token"])
    assert not await access_works(client, first["access_token"])
    assert (await session_row(db_session, first["access_token"])).revoked_at is not None


async def test_any_older_refresh_token_is_reuse_too(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    _, first = await signed_in(client)
    second = (await refresh(client, first["refresh_token"])).json()
    third = (await refresh(client, second["refresh_token"])).json()
    await move_spent_back(db_session, first["access_token"], past_grace(settings))
    assert assert_unauthenticated(await refresh(client, first["refresh_token"]))["detail"] == REUSED_DETAIL
    assert_unauthenticated(await refresh(client, third["refresh_token"]))


async def test_reuse_revokes_only_that_session(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user, stolen = await signed_in(client)
    other = await login(client, user["email"])
    await refresh(client, stolen["refresh_token"])
    await move_spent_back(db_session, stolen["access_token"], past_grace(settings))
    assert_unauthenticated(await refresh(client, stolen["refresh_token"]))
    assert await access_works(client, other["access_token"])
    assert (await refresh(client, other["refresh_token"])).status_code == 200


# --- The grace for a client's retry --------------------------------------------------------------------------


async def test_a_retry_within_the_grace_gets_a_new_pair_and_supersedes_the_first(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    """The answer to the first refresh was lost; the client sends the same token again at once."""
    _, first = await signed_in(client)
    lost = (await refresh(client, first["refresh_token"])).json()
    retried = await refresh(client, first["refresh_token"])
    assert retried.status_code == 200, retried.text
    kept = retried.json()
    assert kept["refresh_token"] != lost["refresh_token"]
    assert (await session_row(db_session, first["access_token"])).revoked_at is None

    newest = (await refresh(client, kept["refresh_token"])).json()  # the retried pair carries the session on
    # Whoever holds the superseded token and comes back with it later is reuse, as for any spent token.
    await move_spent_back(db_session, first["access_token"], past_grace(settings))
    assert assert_unauthenticated(await refresh(client, lost["refresh_token"]))["detail"] == REUSED_DETAIL
    assert_unauthenticated(await refresh(client, newest["refresh_token"]))


async def test_the_superseded_token_is_reuse_even_within_the_grace(client: httpx.AsyncClient) -> None:
    """Only the token the session was refreshed *with* may be retried: the pair it got first may not."""
    _, first = await signed_in(client)
    lost = (await refresh(client, first["refresh_token"])).json()
    assert (await refresh(client, first["refresh_token"])).status_code == 200
    assert assert_unauthenticated(await refresh(client, lost["refresh_token"]))["detail"] == REUSED_DETAIL


async def test_no_grace_once_the_next_token_was_used(client: httpx.AsyncClient) -> None:
    """The client did get the answer (it refreshed with it): the first token coming back is someone else."""
    _, first = await signed_in(client)
    second = (await refresh(client, first["refresh_token"])).json()
    third = (await refresh(client, second["refresh_token"])).json()
    assert assert_unauthenticated(await refresh(client, first["refresh_token"]))["detail"] == REUSED_DETAIL
    assert_unauthenticated(await refresh(client, third["refresh_token"]))


async def test_no_grace_after_the_grace_seconds(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    _, first = await signed_in(client)
    await refresh(client, first["refresh_token"])
    await move_spent_back(db_session, first["access_token"], past_grace(settings))
    assert assert_unauthenticated(await refresh(client, first["refresh_token"]))["detail"] == REUSED_DETAIL


@pytest.mark.settings(session_refresh_grace_seconds=0)
async def test_a_grace_of_zero_makes_any_second_presentation_reuse(client: httpx.AsyncClient) -> None:
    _, first = await signed_in(client)
    second = (await refresh(client, first["refresh_token"])).json()
    assert assert_unauthenticated(await refresh(client, first["refresh_token"]))["detail"] == REUSED_DETAIL
    assert_unauthenticated(await refresh(client, second["refresh_token"]))


# --- Lifetimes -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "setting"),
    [pytest.param("last_used", "session_idle_days", id="idle"), pytest.param("created", "session_max_days", id="max")],
)
async def test_a_session_ends_at_its_lifetime_and_not_before(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, field: str, setting: str
) -> None:
    user, tokens = await signed_in(client)
    lifetime = timedelta(days=getattr(settings, setting))
    await move_back(db_session, tokens["access_token"], **{field: lifetime - timedelta(minutes=1)})
    assert await access_works(client, tokens["access_token"])

    await move_back(db_session, tokens["access_token"], **{field: timedelta(minutes=2)})
    assert not await access_works(client, tokens["access_token"])
    assert_unauthenticated(await refresh(client, tokens["refresh_token"]))
    fresh = await login(client, user["email"])
    listed = (await client.get(SESSIONS, headers=helpers.bearer(fresh["access_token"]))).json()
    assert [s["current"] for s in listed["items"]] == [True]  # the ended session is not listed


@pytest.mark.settings(session_idle_days=1, session_max_days=2)
async def test_the_lifetimes_are_settings(client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    _, tokens = await signed_in(client)
    await move_back(db_session, tokens["access_token"], last_used=timedelta(hours=25))
    assert not await access_works(client, tokens["access_token"])
    _, other = await signed_in(client)
    await move_back(db_session, other["access_token"], created=timedelta(hours=49))
    assert_unauthenticated(await refresh(client, other["refresh_token"]))


# --- Logout --------------------------------------------------------------------------------------------------


async def test_logout_ends_the_current_session_only(client: httpx.AsyncClient) -> None:
    user, tokens = await signed_in(client)
    other = await login(client, user["email"])
    response = await client.post(LOGOUT, headers=helpers.bearer(tokens["access_token"]))
    assert response.status_code == 204, response.text
    assert not await access_works(client, tokens["access_token"])
    assert_unauthenticated(await refresh(client, tokens["refresh_token"]))
    assert await access_works(client, other["access_token"])
    # Logging out again with the same token: its session is gone.
    assert_unauthenticated(await client.post(LOGOUT, headers=helpers.bearer(tokens["access_token"])))


async def test_logout_needs_a_credential(client: httpx.AsyncClient) -> None:
    assert_unauthenticated(await client.post(LOGOUT))
    assert_unauthenticated(await client.post(LOGOUT, headers=helpers.bearer("not a token")))


# --- Listing and revoking one's sessions ---------------------------------------------------------------------


async def test_sessions_are_listed_with_the_current_one_marked(client: httpx.AsyncClient) -> None:
    user, first = await signed_in(client)
    second = await login(
        client, user["email"], headers={"user-agent": "Firefox/" + "x" * 300, "x-forwarded-for": "203.0.113.77"}
    )
    response = await client.get(SESSIONS, headers=helpers.bearer(second["access_token"]))
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == 2
    newest, oldest = page["items"]
    assert newest["id"] == int(helpers.session_id_of(second["access_token"]))
    assert (newest["current"], oldest["current"]) == (True, False)
    assert newest["user_agent"] == ("Firefox/" + "x" * 300)[:200]
    # The test client's address (no proxy is trusted, so the forwarding header is ignored), as a network.
    assert newest["client_network"] == "127.0.0.0/24"
    assert newest["expires_at"] > newest["last_used_at"] >= newest["created_at"]
    assert not {"refresh_token", "refresh_token_hash", "rotated_from_hash"} & set(newest)
    mine = await client.get(SESSIONS, headers=helpers.bearer(first["access_token"]))
    assert [s["current"] for s in mine.json()["items"]] == [False, True]


async def test_a_user_agent_is_stored_without_control_characters(client: httpx.AsyncClient) -> None:
    """PostgreSQL refuses NUL in text: a header a lenient server passed on must not turn a login into a 500."""
    user = await helpers.register(client)
    tokens = await login(client, user["email"], headers={"user-agent": b"curl/8\x00\x07 (\xe9)"})  # type: ignore[dict-item]
    listed = (await client.get(SESSIONS, headers=helpers.bearer(tokens["access_token"]))).json()
    assert listed["items"][0]["user_agent"] == "curl/8 (\u00e9)"


async def test_another_users_sessions_are_neither_listed_nor_revocable(client: httpx.AsyncClient) -> None:
    _, mine = await signed_in(client)
    _, theirs = await signed_in(client)
    listed = (await client.get(SESSIONS, headers=helpers.bearer(mine["access_token"]))).json()
    assert [s["id"] for s in listed["items"]] == [int(helpers.session_id_of(mine["access_token"]))]
    their_session = helpers.session_id_of(theirs["access_token"])
    response = await client.delete(f"{SESSIONS}/{their_session}", headers=helpers.bearer(mine["access_token"]))
    assert_problem(response, 404, slug="not-found")
    assert await access_works(client, theirs["access_token"])


async def test_revoking_one_session_signs_that_device_out(client: httpx.AsyncClient) -> None:
    user, laptop = await signed_in(client)
    phone = await login(client, user["email"])
    url = f"{SESSIONS}/{helpers.session_id_of(phone['access_token'])}"
    assert (await client.delete(url, headers=helpers.bearer(laptop["access_token"]))).status_code == 204
    assert not await access_works(client, phone["access_token"])
    assert_unauthenticated(await refresh(client, phone["refresh_token"]))
    assert await access_works(client, laptop["access_token"])
    assert (await client.delete(url, headers=helpers.bearer(laptop["access_token"]))).status_code == 204  # again
    listed = (await client.get(SESSIONS, headers=helpers.bearer(laptop["access_token"]))).json()
    assert listed["total"] == 1


async def test_revoke_all_signs_out_everywhere(client: httpx.AsyncClient) -> None:
    user, first = await signed_in(client)
    second = await login(client, user["email"])
    response = await client.post(f"{SESSIONS}/revoke-all", headers=helpers.bearer(first["access_token"]))
    assert response.status_code == 200, response.text
    assert response.json() == {"revoked": 2}
    for tokens in (first, second):
        assert not await access_works(client, tokens["access_token"])
        assert_unauthenticated(await refresh(client, tokens["refresh_token"]))
    assert await access_works(client, (await login(client, user["email"]))["access_token"])


async def test_api_keys_are_not_sessions(client: httpx.AsyncClient, counters_path: str) -> None:
    """Signing out everywhere ends sessions; an API key is revoked on its own (DELETE /api-keys/{id})."""
    _, tokens = await signed_in(client)
    access = helpers.bearer(tokens["access_token"])
    issued = await client.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["api:read"]}, headers=access)
    assert (await client.post(f"{SESSIONS}/revoke-all", headers=access)).status_code == 200
    caller = await client.get(f"{counters_path}/caller", headers={"X-API-Key": issued.json()["key"]})
    assert caller.status_code == 200, caller.text


# --- Administrators, deactivation ----------------------------------------------------------------------------


async def test_an_admin_signs_a_user_out_everywhere(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    user, first = await signed_in(client)
    second = await login(client, user["email"])
    response = await client.post(f"/api/v1/users/{user['id']}/sessions/revoke-all", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"revoked": 2}
    assert not await access_works(client, first["access_token"])
    assert not await access_works(client, second["access_token"])
    assert (await client.get(ME, headers=admin)).status_code == 200  # the admin's own session stays
    unknown = await client.post("/api/v1/users/2147483000/sessions/revoke-all", headers=admin)
    assert_problem(unknown, 404, slug="not-found")


async def test_deactivation_revokes_every_session_for_good(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    user, tokens = await signed_in(client)
    url = f"/api/v1/users/{user['id']}"
    assert (await client.patch(url, json={"is_active": False}, headers=admin)).status_code == 200
    assert not await access_works(client, tokens["access_token"])
    assert_unauthenticated(await refresh(client, tokens["refresh_token"]))
    assert (await client.patch(url, json={"is_active": True}, headers=admin)).status_code == 200
    # Reactivated: the account logs in again, but the sessions of before stay revoked.
    assert not await access_works(client, tokens["access_token"])
    assert_unauthenticated(await refresh(client, tokens["refresh_token"]))
    assert await access_works(client, (await login(client, user["email"]))["access_token"])


# --- Changing the password -----------------------------------------------------------------------------------


async def test_a_password_change_keeps_this_session_and_revokes_the_others(client: httpx.AsyncClient) -> None:
    user, here = await signed_in(client)
    elsewhere = await login(client, user["email"])
    body = {"current_password": helpers.PASSWORD, "new_password": NEW_PASSWORD}
    response = await client.post(PASSWORD, json=body, headers=helpers.bearer(here["access_token"]))
    assert response.status_code == 204, response.text
    assert await access_works(client, here["access_token"])
    assert (await refresh(client, here["refresh_token"])).status_code == 200
    assert not await access_works(client, elsewhere["access_token"])
    assert_unauthenticated(await refresh(client, elsewhere["refresh_token"]))
    await login(client, user["email"], password=NEW_PASSWORD)
    old = await client.post("/api/v1/auth/token", data={"username": user["email"], "password": helpers.PASSWORD})
    assert_unauthenticated(old)


async def test_a_wrong_current_password_changes_nothing(client: httpx.AsyncClient) -> None:
    user, here = await signed_in(client)
    elsewhere = await login(client, user["email"])
    body = {"current_password": "not my password at all", "new_password": NEW_PASSWORD}
    response = await client.post(PASSWORD, json=body, headers=helpers.bearer(here["access_token"]))
    problem = assert_problem(response, 422, slug="validation-error")
    assert [e["pointer"] for e in problem["errors"]] == ["#/current_password"]
    assert await access_works(client, elsewhere["access_token"])
    await login(client, user["email"])  # the old password still works


@pytest.mark.parametrize(
    ("new_password", "pointer"),
    [
        pytest.param(helpers.PASSWORD, "#/new_password", id="unchanged"),
        pytest.param("too short", "#/new_password", id="too-short"),
        pytest.param("x" * 257, "#/new_password", id="too-long"),
    ],
)
async def test_the_new_password_follows_registrations_rules(
    client: httpx.AsyncClient, new_password: str, pointer: str
) -> None:
    _, here = await signed_in(client)
    body = {"current_password": helpers.PASSWORD, "new_password": new_password}
    response = await client.post(PASSWORD, json=body, headers=helpers.bearer(here["access_token"]))
    assert helpers.error_pointers(response) == [pointer]


async def test_a_password_change_needs_the_sessions_access_token(client: httpx.AsyncClient) -> None:
    _, here = await signed_in(client)
    body = {"current_password": helpers.PASSWORD, "new_password": NEW_PASSWORD}
    assert_unauthenticated(await client.post(PASSWORD, json=body))
    assert_unauthenticated(await client.post(PASSWORD, json=body, headers=helpers.bearer(here["refresh_token"])))
