"""A product read and a product page are one statement each, and nothing else reaches the driver (no BEGIN, no
ping); a page carries its total in that statement (a scalar subquery), and knows it past its end too."""

import httpx
import pytest

from app.core.context import AppContext
from tests import helpers
from tests.features.products.helpers import create_product
from tests.support import databases

# What reaches the database: the response cache, which would answer the repeated reads without it, is off.
pytestmark = pytest.mark.settings(cache_enabled=False)


async def test_a_product_read_and_a_product_page_are_one_statement_each(
    context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    client = committing_client
    admin = await helpers.committed_admin_headers(context, client)
    product = await create_product(client, admin)
    await create_product(client, admin, name="Gadget")

    read = f"/api/v1/products/{product['id']}"
    async with databases.everything_sent(context.database.engine) as sent:
        assert (await client.get(read)).status_code == 200  # on a new connection, which the pool never pings
        sent.clear()
        assert (await client.get(read)).status_code == 200  # on the same connection, from the pool
        assert sent == ["SELECT"]

        sent.clear()
        page = await client.get("/api/v1/products", params={"size": 1, "page": 2})
        assert page.status_code == 200
        assert (page.json()["total"], len(page.json()["items"])) == (2, 1)
        assert sent == ["SELECT"]


async def test_a_page_past_the_end_still_knows_the_total(
    context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    client = committing_client
    admin = await helpers.committed_admin_headers(context, client)
    await create_product(client, admin)
    page = await client.get("/api/v1/products", params={"size": 10, "page": 5})
    assert page.status_code == 200
    assert (page.json()["total"], page.json()["items"]) == (1, [])
