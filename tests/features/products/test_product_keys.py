"""API keys on the products' writes: `products:write` is for administrators' keys, and follows its owner's role."""

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests import helpers

KEYS = "/api/v1/api-keys"


async def issued_key(client: httpx.AsyncClient, headers: helpers.Headers, *scopes: str) -> str:
    response = await client.post(KEYS, json={"name": "ci", "scopes": list(scopes)}, headers=headers)
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def api_key(key: str) -> helpers.Headers:
    return {"X-API-Key": key}


async def test_products_write_is_for_administrators_keys_only(
    client: httpx.AsyncClient, user: helpers.Headers, admin: helpers.Headers
) -> None:
    refused = await client.post(KEYS, json={"name": "ci", "scopes": ["products:write"]}, headers=user)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "#/scopes/0"
    admin_key = api_key(await issued_key(client, admin, "products:write"))
    created = await client.post("/api/v1/products", json={"name": "keyed", "price": "1.00"}, headers=admin_key)
    assert created.status_code == 201
    reader = api_key(await issued_key(client, admin, "orders:read"))
    assert (
        await client.post("/api/v1/products", json={"name": "x", "price": "1.00"}, headers=reader)
    ).status_code == 403


async def test_a_demoted_admins_products_key_stops_writing(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    owner = await helpers.register(client)
    await db_session.execute(text("UPDATE user_account SET role = 'admin' WHERE id = :id"), {"id": owner["id"]})
    await db_session.commit()
    owner_headers = helpers.bearer((await helpers.login(client, owner["email"]))["access_token"])
    key = api_key(await issued_key(client, owner_headers, "products:write"))
    product = {"name": "keyed", "price": "1.00"}
    assert (await client.post("/api/v1/products", json=product, headers=key)).status_code == 201
    await client.patch(f"/api/v1/users/{owner['id']}", json={"role": "user"}, headers=admin)
    assert (await client.post("/api/v1/products", json=product, headers=key)).status_code == 403
