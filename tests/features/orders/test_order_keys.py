"""API keys on the orders: `orders:read` reads the owner's orders, `orders:write` places them for the owner."""

import httpx

from tests import helpers
from tests.features.products.helpers import create_product

KEYS = "/api/v1/api-keys"
ORDERS = "/api/v1/orders"


async def api_key(client: httpx.AsyncClient, headers: helpers.Headers, *scopes: str) -> helpers.Headers:
    response = await client.post(KEYS, json={"name": "ci", "scopes": list(scopes)}, headers=headers)
    assert response.status_code == 201, response.text
    return {"X-API-Key": response.json()["key"]}


async def test_a_reader_key_reads_orders_but_cannot_place_them(
    client: httpx.AsyncClient, user: helpers.Headers
) -> None:
    reader = await api_key(client, user, "orders:read")
    assert (await client.get(ORDERS, headers=reader)).status_code == 200
    refused = await client.post(ORDERS, json={"items": [{"product_id": 1, "quantity": 1}]}, headers=reader)
    assert refused.status_code == 403
    assert "orders:write" in refused.json()["detail"]


async def test_a_writer_key_places_an_order_for_its_owner(
    client: httpx.AsyncClient, user: helpers.Headers, admin: helpers.Headers
) -> None:
    product = await create_product(client, admin, quantity=3)
    writer = await api_key(client, user, "orders:write", "orders:read")
    placed = await client.post(ORDERS, json={"items": [{"product_id": product["id"], "quantity": 1}]}, headers=writer)
    assert placed.status_code == 201, placed.text
    mine = await client.get(ORDERS, headers=user)
    assert [o["id"] for o in mine.json()["items"]] == [placed.json()["id"]]
