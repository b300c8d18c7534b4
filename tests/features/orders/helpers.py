"""Typed helpers that place and read orders through the API, for the orders tests."""

from typing import Any

import httpx

from tests import helpers

__all__ = ["JSON", "ORDERS", "PRODUCTS", "line", "place", "placed", "stock"]

PRODUCTS = "/api/v1/products"
ORDERS = "/api/v1/orders"

type JSON = dict[str, Any]


def line(product_id: int, quantity: int) -> JSON:
    return {"product_id": product_id, "quantity": quantity}


async def place(client: httpx.AsyncClient, headers: helpers.Headers, *lines: JSON) -> httpx.Response:
    return await client.post(ORDERS, json={"items": list(lines)}, headers=headers)


async def placed(client: httpx.AsyncClient, headers: helpers.Headers, *lines: JSON) -> JSON:
    response = await place(client, headers, *lines)
    assert response.status_code == 201, response.text
    body: JSON = response.json()
    return body


async def stock(client: httpx.AsyncClient, product_id: int) -> int:
    response = await client.get(f"{PRODUCTS}/{product_id}")
    assert response.status_code == 200, response.text
    quantity: int = response.json()["quantity"]
    return quantity
