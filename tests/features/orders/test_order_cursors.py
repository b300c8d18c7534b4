"""Cursor pages of the newest-first order lists: orders placed during a walk come before its position, so the walk
sees each order that was there when it began exactly once, where offset pages shift and show one twice."""

from typing import Any

import httpx

from tests import helpers
from tests.features.orders.helpers import ORDERS, line, placed
from tests.features.products.helpers import create_product

type JSON = dict[str, Any]


async def page(client: httpx.AsyncClient, path: str, headers: helpers.Headers, **params: str | int) -> JSON:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    return body


async def test_a_cursor_walk_of_my_orders_is_unmoved_by_new_orders(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    product = await create_product(client, admin, quantity=100)
    there = [(await placed(client, user, line(product["id"], 1)))["id"] for _ in range(7)]

    body = await page(client, ORDERS, user, size=3)
    walked = [order["id"] for order in body["items"]]
    while body["next_cursor"] is not None:
        await placed(client, user, line(product["id"], 1))  # newer than any, so before the walk's position
        body = await page(client, ORDERS, user, size=3, cursor=body["next_cursor"])
        walked += [order["id"] for order in body["items"]]

    assert walked == sorted(there, reverse=True)


async def test_offset_pages_show_an_order_twice_when_one_is_placed_meanwhile(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    """What the cursor walk above is spared: the same check on offset pages fails."""
    product = await create_product(client, admin, quantity=100)
    for _ in range(4):
        await placed(client, user, line(product["id"], 1))

    first = await page(client, ORDERS, user, size=2, page=1)
    await placed(client, user, line(product["id"], 1))
    second = await page(client, ORDERS, user, size=2, page=2)

    assert first["items"][-1]["id"] == second["items"][0]["id"]


async def test_the_admins_list_by_status_walks_by_cursor_and_binds_it_to_the_status(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    product = await create_product(client, admin, quantity=100)
    ids = [(await placed(client, user, line(product["id"], 1)))["id"] for _ in range(3)]

    first = await page(client, "/api/v1/admin/orders", admin, status="placed", size=2, include_total="false")
    rest = await page(client, "/api/v1/admin/orders", admin, status="placed", size=2, cursor=first["next_cursor"])
    other_status = await client.get(
        "/api/v1/admin/orders", params={"status": "paid", "cursor": first["next_cursor"]}, headers=admin
    )

    assert [o["id"] for o in first["items"]] == sorted(ids, reverse=True)[:2]
    assert sorted(ids, reverse=True)[2] in [o["id"] for o in rest["items"]]
    assert all(o["id"] < ids[1] for o in rest["items"])
    helpers.problem(other_status, 422, "validation-error")
