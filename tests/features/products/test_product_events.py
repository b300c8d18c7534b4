"""Every catalogue change records its event in the same transaction: product.created, product.updated,
product.deleted (SQLite and PostgreSQL)."""

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.events import Event
from tests import helpers
from tests.features.products.helpers import create_product
from tests.helpers import problem

PRODUCTS = "/api/v1/products"

type JSON = dict[str, Any]


async def product_events(session: AsyncSession, product_id: int) -> list[tuple[str, JSON]]:
    events = (await session.scalars(select(Event).where(Event.type.like("product.%")).order_by(Event.id))).all()
    return [(e.type, e.data) for e in events if e.data["id"] == product_id]


async def test_creating_updating_and_deleting_a_product_records_an_event_each(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    product = await create_product(client, admin, name="lamp", price="12.50", quantity=3)
    updated = await client.patch(f"{PRODUCTS}/{product['id']}", json={"price": "11.00"}, headers=admin)
    assert updated.status_code == 200, updated.text
    deleted = await client.delete(f"{PRODUCTS}/{product['id']}", headers=admin)
    assert deleted.status_code == 204, deleted.text

    assert await product_events(db_session, product["id"]) == [
        ("product.created", {"id": product["id"], "name": "lamp", "price": "12.50", "quantity": 3}),
        (
            "product.updated",
            {"id": product["id"], "name": "lamp", "price": "11.00", "quantity": 3, "changed": ["price"]},
        ),
        ("product.deleted", {"id": product["id"]}),
    ]


async def test_a_refused_change_records_no_event(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers, db_session: AsyncSession
) -> None:
    product = await create_product(client, admin, name="lamp", quantity=3)
    ordered = await client.post(
        "/api/v1/orders", json={"items": [{"product_id": product["id"], "quantity": 1}]}, headers=user
    )
    assert ordered.status_code == 201, ordered.text

    problem(await client.delete(f"{PRODUCTS}/{product['id']}", headers=admin), 409, "conflict")  # ordered: kept
    problem(
        await client.patch(f"{PRODUCTS}/{product['id']}", json={"price": "-1"}, headers=admin), 422, "validation-error"
    )

    assert [t for t, _ in await product_events(db_session, product["id"])] == ["product.created"]
