"""Encrypted personal data through the API: a user's phone, with its blind index."""

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests import helpers

ME = "/api/v1/users/me"


async def _raw(session: AsyncSession, sql: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in (await session.execute(text(sql))).all()]


async def test_a_phone_is_normalised_returned_and_stored_only_encrypted(
    client: httpx.AsyncClient, user: helpers.Headers, db_session: AsyncSession
) -> None:
    response = await client.patch(ME, json={"phone": "+44 (20) 7946-0958"}, headers=user)
    assert response.status_code == 200, response.text
    assert response.json()["phone"] == "+442079460958"
    assert (await client.get(ME, headers=user)).json()["phone"] == "+442079460958"
    [(stored, index)] = await _raw(db_session, "SELECT phone, phone_index FROM user_account WHERE phone IS NOT NULL")
    assert isinstance(stored, str)
    assert "2079460958" not in stored
    assert index is not None


async def test_an_admin_finds_a_user_by_phone_through_the_blind_index(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    target = await helpers.register(client)
    target_headers = helpers.bearer((await helpers.login(client, target["email"]))["access_token"])
    other = await helpers.user_headers(client)
    await client.patch(ME, json={"phone": "+14155550100"}, headers=target_headers)
    await client.patch(ME, json={"phone": "+14155550101"}, headers=other)
    found = await client.get("/api/v1/users", params={"phone": "+1 415 555 0100"}, headers=admin)
    assert found.status_code == 200
    assert [u["id"] for u in found.json()["items"]] == [target["id"]]
    assert found.json()["total"] == 1
    none = await client.get("/api/v1/users", params={"phone": "+14155550199"}, headers=admin)
    assert none.json()["items"] == []


async def test_only_admins_search_by_phone(client: httpx.AsyncClient, user: helpers.Headers) -> None:
    assert (await client.get("/api/v1/users", params={"phone": "+14155550100"}, headers=user)).status_code == 403


async def test_clearing_the_phone_clears_its_index(
    client: httpx.AsyncClient, user: helpers.Headers, db_session: AsyncSession
) -> None:
    await client.patch(ME, json={"phone": "+14155550100"}, headers=user)
    cleared = await client.patch(ME, json={"phone": None, "full_name": "Ada"}, headers=user)
    assert cleared.json()["phone"] is None
    assert cleared.json()["full_name"] == "Ada"
    assert await _raw(db_session, "SELECT phone FROM user_account WHERE phone_index IS NOT NULL") == []


@pytest.mark.parametrize(
    "body",
    [{}, {"phone": "12345"}, {"phone": "+0123456789"}, {"phone": 4415555}, {"role": "admin"}, {"email": "x@y.z"}],
)
async def test_invalid_self_updates_are_422(
    client: httpx.AsyncClient, user: helpers.Headers, body: dict[str, object]
) -> None:
    response = await client.patch(ME, json=body, headers=user)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
