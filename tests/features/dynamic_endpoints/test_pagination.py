"""A dynamic collection's `?page=&size=&cursor=&include_total=` is read by the same parser as a built-in listing's:
the same values are accepted, and a bad one is the same 422, to the letter. Its cursors walk it as a built-in
listing's do, and are its own."""

import httpx
import pytest

from tests import helpers
from tests.support.dynamic_endpoints import ADMIN_ENDPOINTS, collection, create, static
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
        {"cursor": ""},
        {"cursor": "made-up"},
        {"cursor": "x" * 600},
        {"include_total": "maybe"},
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


async def test_a_cursor_with_a_page_is_the_same_422(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    await create(client, admin, collection())
    query = {"page": "1", "cursor": "made-up"}

    built_in = helpers.problem(await client.get(ADMIN_ENDPOINTS, params=query, headers=admin), 422, "validation-error")
    dynamic = helpers.problem(await client.get(BOOKS, params=query), 422, "validation-error")

    assert without_request(dynamic) == without_request(built_in)
    assert [e["pointer"] for e in dynamic["errors"]] == ["#/page"]


async def test_a_collection_walks_by_cursor_and_refuses_another_listings_cursor(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    await create(client, admin, collection())
    await create(client, admin, static())  # a second spec: the specs' first page of one has a next_cursor
    ids = [(await client.post(BOOKS, json={"title": f"Book {i}"})).json()["id"] for i in range(5)]

    body = (await client.get(BOOKS, params={"size": 2, "include_total": "false"})).json()
    walked = [book["id"] for book in body["items"]]
    while body["next_cursor"] is not None:
        response = await client.get(BOOKS, params={"size": 2, "cursor": body["next_cursor"]})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["page"], body["total"]) == (None, 5)
        walked += [book["id"] for book in body["items"]]
    specs_cursor = (await client.get(ADMIN_ENDPOINTS, params={"size": 1}, headers=admin)).json()["next_cursor"]

    assert walked == ids
    helpers.problem(await client.get(BOOKS, params={"cursor": specs_cursor}), 422, "validation-error")
