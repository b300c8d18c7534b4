"""An admin's product writes are audited, by token or by API key, with the fields they changed; a refused write
leaves no entry (SQLite and PostgreSQL)."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests import helpers
from tests.features.products.helpers import create_product
from tests.support.audit import assert_no_entry, entry_of

PRODUCTS = "/api/v1/products"


async def test_creating_changing_and_deleting_a_product_are_recorded(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    admin_id = (await client.get("/api/v1/users/me", headers=admin)).json()["id"]
    created = await client.post(PRODUCTS, json={"name": "Lamp", "price": "9.90", "quantity": 3}, headers=admin)
    product_id = created.json()["id"]
    entry = await entry_of(
        db_session, created, action="product.create", target_type="product", target_id=str(product_id)
    )
    assert (entry.actor_user_id, entry.actor_api_key_id) == (admin_id, None)
    assert (entry.before, entry.after) == (None, {"name": "Lamp", "price": "9.90", "quantity": 3})

    changed = await client.patch(f"{PRODUCTS}/{product_id}", json={"price": "12.00", "quantity": 3}, headers=admin)
    entry = await entry_of(db_session, changed, action="product.update")
    assert (entry.before, entry.after) == ({"price": "9.90"}, {"price": "12.00"})  # the quantity did not change

    deleted = await client.delete(f"{PRODUCTS}/{product_id}", headers=admin)
    entry = await entry_of(db_session, deleted, action="product.delete", after=None)
    assert entry.before == {"name": "Lamp", "price": "12.00", "quantity": 3}


async def test_a_write_with_an_api_key_names_the_key(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    issued = await client.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["products:write"]}, headers=admin)
    key = {"X-API-Key": issued.json()["key"]}
    created = await client.post(PRODUCTS, json={"name": "Keyed", "price": "1.00"}, headers=key)
    entry = await entry_of(db_session, created, action="product.create")
    assert entry.actor_api_key_id == issued.json()["id"]


async def test_refused_writes_leave_no_entry(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers, db_session: AsyncSession
) -> None:
    product = await create_product(client, admin)
    path = f"{PRODUCTS}/{product['id']}"
    await assert_no_entry(db_session, await client.patch(path, json={"price": "1.999"}, headers=admin))  # 422
    await assert_no_entry(db_session, await client.patch(path, json={"price": "2.00"}, headers=user))  # 403
    await assert_no_entry(db_session, await client.delete(f"{PRODUCTS}/999999", headers=admin))  # 404
    order = await client.post(
        "/api/v1/orders", json={"items": [{"product_id": product["id"], "quantity": 1}]}, headers=user
    )
    assert order.status_code == 201, order.text
    await assert_no_entry(db_session, await client.delete(path, headers=admin))  # in an order: 409
