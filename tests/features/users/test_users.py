"""The administrators' user management: listing (paginated) and PATCH of role / active flag."""

import math
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.context import AppContext
from tests import helpers
from tests.support.auth import (
    ME,
    USER_READ_KEYS,
    assert_problem,
    assert_unauthenticated,
    error_pointers,
)

USERS = "/api/v1/users"


def user_url(user_id: int | str) -> str:
    return f"{USERS}/{user_id}"


async def me(client: httpx.AsyncClient, headers: helpers.Headers) -> dict[str, Any]:
    response = await client.get(ME, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def total_users(client: httpx.AsyncClient, admin: helpers.Headers) -> int:
    response = await client.get(USERS, params={"size": 1}, headers=admin)
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


async def all_users(client: httpx.AsyncClient, admin: helpers.Headers) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        response = await client.get(USERS, params={"page": page, "size": 100}, headers=admin)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        if page >= body["pages"]:
            return items
        page += 1


# --- GET /users ----------------------------------------------------------------------------------------------


async def test_admin_lists_users_as_a_page(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    before = await total_users(client, admin)
    created = [await helpers.register(client) for _ in range(3)]

    response = await client.get(USERS, headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"items", "total", "page", "size", "pages", "next_cursor"}
    assert body["total"] == before + 3
    assert body["page"] == 1
    assert body["size"] == 20
    assert body["pages"] == math.ceil(body["total"] / 20)
    assert "hashed_password" not in response.text
    for item in body["items"]:
        assert set(item) == USER_READ_KEYS

    listed = {u["id"]: u for u in await all_users(client, admin)}
    for user in created:
        assert listed[user["id"]] == user


async def test_listing_is_ordered_by_id_and_pages_partition_the_users(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    for _ in range(4):
        await helpers.register(client)
    total = await total_users(client, admin)
    assert total >= 5  # the admin and four users
    size = 2
    pages = math.ceil(total / size)

    seen: list[int] = []
    for page in range(1, pages + 1):
        response = await client.get(USERS, params={"page": page, "size": size}, headers=admin)
        body = response.json()
        assert (body["total"], body["page"], body["size"], body["pages"]) == (total, page, size, pages)
        expected_count = size if page < pages else total - size * (pages - 1)
        assert len(body["items"]) == expected_count
        seen.extend(item["id"] for item in body["items"])
    assert seen == sorted(seen)
    assert len(set(seen)) == total

    past_the_end = await client.get(USERS, params={"page": pages + 1, "size": size}, headers=admin)
    assert past_the_end.status_code == 200
    assert past_the_end.json()["items"] == []
    assert past_the_end.json()["total"] == total


async def test_listing_accepts_the_maximum_page_size(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    response = await client.get(USERS, params={"size": 100}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["size"] == 100


@pytest.mark.parametrize(
    ("params", "pointer"),
    [
        pytest.param({"size": 101}, "#/size", id="size-101"),
        pytest.param({"size": 0}, "#/size", id="size-0"),
        pytest.param({"size": -1}, "#/size", id="size-negative"),
        pytest.param({"size": "ten"}, "#/size", id="size-text"),
        pytest.param({"page": 0}, "#/page", id="page-0"),
        pytest.param({"page": -3}, "#/page", id="page-negative"),
        pytest.param({"page": "first"}, "#/page", id="page-text"),
    ],
)
async def test_listing_refuses_invalid_pagination(
    client: httpx.AsyncClient, admin: helpers.Headers, params: dict[str, Any], pointer: str
) -> None:
    body = assert_problem(await client.get(USERS, params=params, headers=admin), 422, slug="validation-error")
    assert error_pointers(body) == {pointer}
    assert all(e["location"] == "query" for e in body["errors"])


async def test_listing_is_forbidden_to_a_non_admin(client: httpx.AsyncClient, user: helpers.Headers) -> None:
    body = assert_problem(await client.get(USERS, headers=user), 403, slug="forbidden")
    assert "items" not in body


async def test_listing_without_a_token_is_401(client: httpx.AsyncClient) -> None:
    assert_unauthenticated(await client.get(USERS))


async def test_listing_with_an_invalid_token_is_401(client: httpx.AsyncClient) -> None:
    assert_unauthenticated(await client.get(USERS, headers=helpers.bearer("not-a-token")))


# --- PATCH /users/{id} ---------------------------------------------------------------------------------------


async def test_admin_deactivates_a_user(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    target = await helpers.register(client)
    response = await client.patch(user_url(target["id"]), json={"is_active": False}, headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == USER_READ_KEYS
    assert body == {**target, "is_active": False}
    listed = {u["id"]: u for u in await all_users(client, admin)}
    assert listed[target["id"]]["is_active"] is False


async def test_admin_can_deactivate_another_admin(
    context: AppContext, client: httpx.AsyncClient, db_session: AsyncSession, admin: helpers.Headers
) -> None:
    other = await helpers.admin_headers(client, db_session, context.password_hasher)
    other_id = (await me(client, other))["id"]
    response = await client.patch(user_url(other_id), json={"is_active": False}, headers=admin)
    assert response.status_code == 200, response.text
    assert_unauthenticated(await client.get(USERS, headers=other))


async def test_admin_promotes_a_user_who_then_has_admin_access(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    target = await helpers.register(client)
    target_headers = helpers.bearer((await helpers.login(client, target["email"]))["access_token"])
    assert (await client.get(USERS, headers=target_headers)).status_code == 403

    response = await client.patch(user_url(target["id"]), json={"role": "admin"}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "admin"
    assert (await client.get(USERS, headers=target_headers)).status_code == 200


async def test_admin_demotes_another_admin_who_then_loses_admin_access(
    context: AppContext, client: httpx.AsyncClient, db_session: AsyncSession, admin: helpers.Headers
) -> None:
    other = await helpers.admin_headers(client, db_session, context.password_hasher)
    other_id = (await me(client, other))["id"]
    response = await client.patch(user_url(other_id), json={"role": "user"}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "user"
    assert_problem(await client.get(USERS, headers=other), 403, slug="forbidden")


async def test_admin_cannot_deactivate_itself(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    own_id = (await me(client, admin))["id"]
    body = assert_problem(
        await client.patch(user_url(own_id), json={"is_active": False}, headers=admin), 409, slug="conflict"
    )
    assert "own account" in body["detail"]
    still = await me(client, admin)
    assert still["is_active"] is True
    assert (await client.get(USERS, headers=admin)).status_code == 200


@pytest.mark.parametrize(
    "changes", [{"role": "user"}, {"role": "user", "is_active": True}, {"role": "user", "is_active": False}]
)
async def test_admin_cannot_demote_itself(
    client: httpx.AsyncClient, admin: helpers.Headers, changes: dict[str, Any]
) -> None:
    own_id = (await me(client, admin))["id"]
    assert_problem(await client.patch(user_url(own_id), json=changes, headers=admin), 409, slug="conflict")
    assert (await me(client, admin))["role"] == "admin"


async def test_admin_may_reaffirm_its_own_active_flag(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    own = await me(client, admin)
    response = await client.patch(user_url(own["id"]), json={"is_active": True}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == own


@pytest.mark.parametrize(
    ("payload", "pointers"),
    [
        pytest.param({}, {"#"}, id="empty"),
        pytest.param({"role": None, "is_active": None}, {"#"}, id="all-null"),
        pytest.param({"is_active": False, "email": "new@example.com"}, {"#/email"}, id="unknown-field"),
        pytest.param({"is_active": False, "hashed_password": "x"}, {"#/hashed_password"}, id="hashed-password"),
        pytest.param({"is_active": "false"}, {"#/is_active"}, id="active-as-string"),
        pytest.param({"is_active": 0}, {"#/is_active"}, id="active-as-number"),
        pytest.param({"role": "superuser"}, {"#/role"}, id="unknown-role"),
        pytest.param({"role": 1}, {"#/role"}, id="role-as-number"),
    ],
)
async def test_patch_invalid_body_is_422(
    client: httpx.AsyncClient, admin: helpers.Headers, payload: dict[str, Any], pointers: set[str]
) -> None:
    target = await helpers.register(client)
    response = await client.patch(user_url(target["id"]), json=payload, headers=admin)
    body = assert_problem(response, 422, slug="validation-error")
    assert error_pointers(body) == pointers
    listed = {u["id"]: u for u in await all_users(client, admin)}
    assert listed[target["id"]] == target  # unchanged


async def test_patch_an_unknown_user_is_404(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    body = assert_problem(
        await client.patch(user_url(2**31 - 1), json={"is_active": False}, headers=admin), 404, slug="not-found"
    )
    assert str(2**31 - 1) in body["detail"]


@pytest.mark.parametrize("user_id", ["0", "-1", str(2**31), str(2**63), "abc", "1.5"])
async def test_patch_an_out_of_range_id_is_422(client: httpx.AsyncClient, admin: helpers.Headers, user_id: str) -> None:
    response = await client.patch(user_url(user_id), json={"is_active": False}, headers=admin)
    body = assert_problem(response, 422, slug="validation-error")
    assert body["errors"][0]["location"] == "path"
    assert error_pointers(body) == {"#/user_id"}


async def test_patch_is_forbidden_to_a_non_admin(client: httpx.AsyncClient, user: helpers.Headers) -> None:
    target = await helpers.register(client)
    response = await client.patch(user_url(target["id"]), json={"is_active": False}, headers=user)
    assert_problem(response, 403, slug="forbidden")


async def test_a_user_cannot_promote_itself(client: httpx.AsyncClient) -> None:
    target = await helpers.register(client)
    headers = helpers.bearer((await helpers.login(client, target["email"]))["access_token"])
    response = await client.patch(user_url(target["id"]), json={"role": "admin"}, headers=headers)
    assert_problem(response, 403, slug="forbidden")
    assert (await me(client, headers))["role"] == "user"
    assert (await client.get(USERS, headers=headers)).status_code == 403


async def test_patch_without_a_token_is_401(client: httpx.AsyncClient) -> None:
    target = await helpers.register(client)
    assert_unauthenticated(await client.patch(user_url(target["id"]), json={"is_active": False}))


async def test_patch_with_a_text_body_is_415(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    target = await helpers.register(client)
    response = await client.patch(
        user_url(target["id"]), content=b'{"is_active": false}', headers={**admin, "content-type": "text/plain"}
    )
    assert_problem(response, 415, slug="unsupported-media-type")
