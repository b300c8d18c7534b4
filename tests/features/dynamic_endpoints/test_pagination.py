"""A dynamic collection's `?page=&size=` is read by the same parser as a built-in listing's: the same values are
accepted, and a bad one is the same 422, to the letter."""

import httpx
import pytest

from tests import helpers
from tests.support.dynamic_endpoints import ADMIN_ENDPOINTS, collection, create
from tests.support.problems import without_request

BOOKS = "/api/v1/x/books"


@pytest.mark.parametrize(
    "query",
    [
        {"page": "0"},
        {"page": "-1"},
        {"page": "first"},
        {"page": ""},
        {"page": "²"},
        {"page": "9" * 5000},
        {"page": "100001"},
        {"size": "0"},
        {"size": "101"},
        {"size": "ten"},
        {"page": "0", "size": "x"},
    ],
)
async def test_a_bad_page_is_the_same_422_on_built_in_and_dynamic_listings(
    client: httpx.AsyncClient, admin: helpers.Headers, query: dict[str, str]
) -> None:
    await create(client, admin, collection())

    built_in = helpers.problem(await client.get(ADMIN_ENDPOINTS, params=query, headers=admin), 422, "validation-error")
    dynamic = helpers.problem(await client.get(BOOKS, params=query), 422, "validation-error")

    assert without_request(dynamic) == without_request(built_in)
    assert {(e["location"], e["pointer"]) for e in dynamic["errors"]} == {("query", f"#/{name}") for name in query}


@pytest.mark.parametrize("page", ["2", "+2", " 2", "02", "2.0"])
async def test_a_page_number_is_read_alike(client: httpx.AsyncClient, admin: helpers.Headers, page: str) -> None:
    await create(client, admin, collection())

    built_in = await client.get(ADMIN_ENDPOINTS, params={"page": page, "size": "1"}, headers=admin)
    dynamic = await client.get(BOOKS, params={"page": page, "size": "1"})

    assert built_in.status_code == dynamic.status_code == 200, (built_in.text, dynamic.text)
    assert built_in.json()["page"] == dynamic.json()["page"] == 2
