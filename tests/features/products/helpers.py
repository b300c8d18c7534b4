"""Typed helpers that arrange products through the API (the orders tests use them too)."""

from typing import Any

import httpx

from tests.helpers import Headers


async def create_product(
    client: httpx.AsyncClient, headers: Headers, *, name: str = "Widget", price: str = "9.99", quantity: int = 10
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/products", json={"name": name, "price": price, "quantity": quantity}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
