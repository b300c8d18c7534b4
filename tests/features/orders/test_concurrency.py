"""The no-oversell proof: many orders at once, through the app's own engine with real commits, on both backends.

`committing_client` sends every request through the app's real per-request transaction (no savepoint joined to
a test transaction), so that concurrent requests really compete for the same rows and locks. Its tables are
emptied after each test.
"""

import asyncio
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from app.core.context import AppContext
from app.core.events import Event
from app.features.orders.models import Order, OrderItem
from app.features.products.models import Product
from tests import helpers
from tests.features.products.helpers import create_product

PRODUCTS = "/api/v1/products"
ORDERS = "/api/v1/orders"

type JSON = dict[str, Any]


async def customers(client: httpx.AsyncClient, count: int) -> list[helpers.Headers]:
    return [await helpers.user_headers(client) for _ in range(count)]


async def order_one(
    client: httpx.AsyncClient, headers: helpers.Headers, product_id: int, quantity: int
) -> httpx.Response:
    return await client.post(
        ORDERS, json={"items": [{"product_id": product_id, "quantity": quantity}]}, headers=headers
    )


async def stored_stock(context: AppContext, product_id: int) -> int:
    async with context.database.session(writes=False) as session:
        quantity: int = (await session.execute(select(Product.quantity).where(Product.id == product_id))).scalar_one()
        return quantity


async def stored_lines(context: AppContext, product_id: int) -> tuple[int, int]:
    """(number of order item rows, units they hold) for the product, read from the database itself."""
    statement = select(func.count(), func.coalesce(func.sum(OrderItem.quantity), 0)).where(
        OrderItem.product_id == product_id
    )
    async with context.database.session(writes=False) as session:
        rows, units = (await session.execute(statement)).one()
        return int(rows), int(units)


async def stored_order_count(context: AppContext) -> int:
    async with context.database.session(writes=False) as session:
        count: int = (await session.execute(select(func.count()).select_from(Order))).scalar_one()
        return count


async def test_concurrent_single_unit_orders_never_oversell(
    context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    client = committing_client
    admin = await helpers.committed_admin_headers(context, client)
    product = await create_product(client, admin, name="limited edition", price="0.10", quantity=5)
    buyers = await customers(client, 5)

    responses = await asyncio.gather(*(order_one(client, buyers[i % len(buyers)], product["id"], 1) for i in range(25)))

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 5, 409: 20}, [r.text for r in responses if r.status_code not in {201, 409}]
    for response in responses:
        body = response.json()
        if response.status_code == 201:
            assert body["total"] == "0.10"
            assert body["items"] == [
                {"product_id": product["id"], "product_name": "limited edition", "quantity": 1, "unit_price": "0.10"}
            ]
        else:
            assert body["type"].endswith("insufficient-stock")
            assert (body["product_id"], body["requested"]) == (product["id"], 1)
            assert body["available"] == 0  # a refusal means it was sold out, since the stock only goes down
    assert len({r.json()["id"] for r in responses if r.status_code == 201}) == 5
    assert await stored_stock(context, product["id"]) == 0
    assert (await client.get(f"{PRODUCTS}/{product['id']}")).json()["quantity"] == 0
    assert await stored_lines(context, product["id"]) == (5, 5)
    assert await stored_order_count(context) == 5


async def test_concurrent_multi_unit_orders_sum_to_the_stock(
    context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    client = committing_client
    admin = await helpers.committed_admin_headers(context, client)
    product = await create_product(client, admin, name="small batch", price="1.10", quantity=7)
    buyers = await customers(client, 4)
    quantities = [2, 3] * 10  # 50 units asked for, 7 in stock

    responses = await asyncio.gather(
        *(order_one(client, buyers[i % len(buyers)], product["id"], q) for i, q in enumerate(quantities))
    )

    assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses]
    sold = [q for q, r in zip(quantities, responses, strict=True) if r.status_code == 201]
    refused = [(q, r.json()) for q, r in zip(quantities, responses, strict=True) if r.status_code == 409]
    final = await stored_stock(context, product["id"])
    assert final >= 0
    assert sum(sold) + final == 7
    # Every refusal saw too little stock, and the stock only goes down: what is left fits none of the refused orders.
    assert refused
    for quantity, body in refused:
        assert body["type"].endswith("insufficient-stock")
        assert body["requested"] == quantity
        assert body["available"] < quantity
        assert final < quantity
    assert final <= 1  # at most three orders of 2 fit in 7 units, so some order of 2 was refused: final < 2
    for quantity, response in zip(quantities, responses, strict=True):
        if response.status_code == 201:
            assert response.json()["total"] == str(Decimal("1.10") * quantity)
    assert await stored_lines(context, product["id"]) == (len(sold), sum(sold))
    assert await stored_order_count(context) == len(sold)


async def test_concurrent_orders_over_two_products_keep_every_order_whole(
    context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    """Orders for both products at once, in either line order: an order is all of its lines or nothing."""
    client = committing_client
    admin = await helpers.committed_admin_headers(context, client)
    first = await create_product(client, admin, name="left", price="1.00", quantity=6)
    second = await create_product(client, admin, name="right", price="2.00", quantity=4)
    buyers = await customers(client, 4)
    pair = [{"product_id": first["id"], "quantity": 1}, {"product_id": second["id"], "quantity": 1}]
    bodies: list[JSON] = [{"items": pair if i % 2 else list(reversed(pair))} for i in range(12)]

    responses = await asyncio.gather(
        *(client.post(ORDERS, json=body, headers=buyers[i % len(buyers)]) for i, body in enumerate(bodies))
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 4, 409: 8}, [r.text for r in responses if r.status_code not in {201, 409}]
    assert await stored_stock(context, first["id"]) == 2  # only whole orders took a unit of `left`
    assert await stored_stock(context, second["id"]) == 0
    assert await stored_lines(context, first["id"]) == (4, 4)
    assert await stored_lines(context, second["id"]) == (4, 4)
    for response in responses:
        if response.status_code == 201:
            assert response.json()["total"] == "3.00"
        else:
            assert response.json()["product_id"] == second["id"]


async def test_a_refused_order_rolls_back_its_earlier_reservations_for_real(
    app: FastAPI, context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    """The same atomicity as in test_orders.py, but through the app's own session and a real commit/rollback."""
    client = committing_client
    admin = await helpers.committed_admin_headers(context, client)
    plenty = await create_product(client, admin, name="plenty", price="1.00", quantity=10)
    short = await create_product(client, admin, name="short", price="1.00", quantity=1)
    (buyer,) = await customers(client, 1)

    response = await client.post(
        ORDERS,
        json={"items": [{"product_id": plenty["id"], "quantity": 4}, {"product_id": short["id"], "quantity": 2}]},
        headers=buyer,
    )

    assert response.status_code == 409, response.text
    assert await stored_stock(context, plenty["id"]) == 10
    assert await stored_stock(context, short["id"]) == 1
    assert await stored_lines(context, plenty["id"]) == (0, 0)
    assert await stored_order_count(context) == 0


async def test_concurrent_cancels_of_one_order_restore_its_stock_once(
    context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    client = committing_client
    admin = await helpers.committed_admin_headers(context, client)
    product = await create_product(client, admin, name="returnable", price="1.00", quantity=10)
    [buyer] = await customers(client, 1)
    placed = await order_one(client, buyer, product["id"], 4)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]

    responses = await asyncio.gather(
        *(client.post(f"{ORDERS}/{order_id}/cancel", headers=buyer if i % 2 else admin) for i in range(8))
    )

    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    assert {r.json()["status"] for r in responses} == {"cancelled"}
    assert await stored_stock(context, product["id"]) == 10  # 6 + 4, restored once
    async with context.database.session(writes=False) as session:
        cancelled = await session.scalar(select(func.count()).select_from(Event).where(Event.type == "order.cancelled"))
    assert cancelled == 1
