"""An order's shipping address: encrypted at rest, returned to its owner."""

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests import helpers
from tests.features.products.helpers import create_product


async def test_a_shipping_address_is_stored_encrypted_and_returned_to_its_owner(
    client: httpx.AsyncClient, user: helpers.Headers, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    product = await create_product(client, admin, quantity=2)
    placed = await client.post(
        "/api/v1/orders",
        json={"items": [{"product_id": product["id"], "quantity": 1}], "shipping_address": "221B Baker Street"},
        headers=user,
    )
    assert placed.status_code == 201, placed.text
    assert placed.json()["shipping_address"] == "221B Baker Street"
    order = await client.get(f"/api/v1/orders/{placed.json()['id']}", headers=user)
    assert order.json()["shipping_address"] == "221B Baker Street"
    rows = (await db_session.execute(text("SELECT shipping_address FROM customer_order"))).all()
    [(stored,)] = [tuple(row) for row in rows if row[0] is not None]
    assert isinstance(stored, str)
    assert "Baker" not in stored


async def test_a_nul_in_the_shipping_address_is_422_at_its_pointer_and_places_nothing(
    client: httpx.AsyncClient, user: helpers.Headers, admin: helpers.Headers
) -> None:
    product = await create_product(client, admin, quantity=2)
    placed = await client.post(
        "/api/v1/orders",
        json={"items": [{"product_id": product["id"], "quantity": 1}], "shipping_address": "221B\u0000Baker Street"},
        headers=user,
    )
    assert helpers.error_pointers(placed) == ["#/shipping_address"]
    assert (await client.get("/api/v1/orders", headers=user)).json()["total"] == 0
