"""Cursor pages of the product list: a walk sees every product once, in order, while others are added; a cursor
is refused when altered, when used with a page, and on another listing or with other filters."""

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from app.core.context import AppContext
from tests import helpers
from tests.features.products.helpers import create_product
from tests.support.problems import without_request

PRODUCTS = "/api/v1/products"
_tags = itertools.count(1)

type JSON = dict[str, Any]


def unique_tag() -> str:
    return f"cursor-walk-{next(_tags)}"


async def page(client: httpx.AsyncClient, **params: str | int) -> JSON:
    response = await client.get(PRODUCTS, params=params)
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    return body


async def walk(client: httpx.AsyncClient, **params: str | int) -> list[int]:
    """Every id the cursor walk visits, from the first page to the one whose next_cursor is null."""
    body = await page(client, **params)
    ids = [item["id"] for item in body["items"]]
    while body["next_cursor"] is not None:
        body = await page(client, **params, cursor=body["next_cursor"])
        assert body["page"] is None
        ids += [item["id"] for item in body["items"]]
    return ids


async def test_a_cursor_walk_sees_every_product_once_in_order_while_products_are_added(
    committing_client: httpx.AsyncClient, context: AppContext
) -> None:
    admin = await helpers.committed_admin_headers(context, committing_client)
    tag = unique_tag()
    before = [(await create_product(committing_client, admin, name=f"{tag} {i}"))["id"] for i in range(13)]

    async def add_more() -> None:
        for i in range(8):
            await create_product(committing_client, admin, name=f"{tag} added {i}")
            await asyncio.sleep(0)

    adding = asyncio.create_task(add_more())
    walked = await walk(committing_client, q=tag, size=2, include_total="false")
    await adding

    assert walked == sorted(set(walked)), "each product once, in the list's order"
    assert set(before) <= set(walked)
    now = await page(committing_client, q=tag, size=100)
    assert walked == [item["id"] for item in now["items"] if item["id"] <= walked[-1]], "none skipped"


async def test_next_cursor_is_null_on_the_last_page_only(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    tag = unique_tag()
    ids = [(await create_product(client, admin, name=f"{tag} {i}"))["id"] for i in range(4)]

    first = await page(client, q=tag, size=2)
    second = await page(client, q=tag, size=2, cursor=first["next_cursor"])
    exact = await page(client, q=tag, size=4)

    assert [i["id"] for i in first["items"]] == ids[:2]
    assert (first["page"], first["total"], first["pages"]) == (1, 4, 2)
    assert [i["id"] for i in second["items"]] == ids[2:]
    assert (second["page"], second["total"], second["pages"], second["next_cursor"]) == (None, 4, 2, None)
    assert exact["next_cursor"] is None
    # An offset page names the next page too: a client may switch to cursors anywhere.
    assert (await page(client, q=tag, size=1, page=2))["next_cursor"] is not None


async def test_include_total_false_leaves_out_the_count(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    tag = unique_tag()
    for i in range(3):
        await create_product(client, admin, name=f"{tag} {i}")

    first = await page(client, q=tag, size=2, include_total="false")
    second = await page(client, q=tag, size=2, include_total="false", cursor=first["next_cursor"])
    past_the_end = await page(client, q=tag, page=9, include_total="false")

    assert (first["total"], first["pages"], len(first["items"])) == (None, None, 2)
    assert (second["total"], second["pages"], len(second["items"]), second["next_cursor"]) == (None, None, 1, None)
    assert (past_the_end["total"], past_the_end["items"]) == (None, [])


async def test_a_cursor_may_change_the_size_and_the_parameters_order(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    tag = unique_tag()
    ids = [(await create_product(client, admin, name=f"{tag} {i}"))["id"] for i in range(5)]
    cursor = (await page(client, q=tag, size=1))["next_cursor"]

    response = await client.get(f"{PRODUCTS}?size=3&cursor={cursor}&include_total=false&q={tag}")

    assert response.status_code == 200, response.text
    assert [i["id"] for i in response.json()["items"]] == ids[1:4]


def _altered(cursor: str) -> list[str]:
    position, _, tag = cursor.partition(".")
    flipped = "A" if position[-1] != "A" else "B"
    return [f"{position[:-1]}{flipped}.{tag}", f"{position}.{tag[::-1]}", position, "made-up"]


async def test_an_altered_cursor_is_a_422(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    tag = unique_tag()
    for i in range(3):
        await create_product(client, admin, name=f"{tag} {i}")
    cursor = (await page(client, q=tag, size=1))["next_cursor"]

    for altered in _altered(cursor):
        body = helpers.problem(
            await client.get(PRODUCTS, params={"q": tag, "cursor": altered}), 422, "validation-error"
        )
        assert [(e["location"], e["pointer"], e["code"]) for e in body["errors"]] == [
            ("query", "#/cursor", "invalid_cursor")
        ]


@pytest.mark.parametrize(
    "filters",
    [
        pytest.param(lambda _: {"q": "another"}, id="other filter value"),
        pytest.param(lambda _: {}, id="filter dropped"),
        pytest.param(lambda tag: {"q": tag, "min_price": "0"}, id="filter added"),
    ],
)
async def test_a_cursor_is_refused_with_other_filters(
    client: httpx.AsyncClient, admin: helpers.Headers, filters: Callable[[str], dict[str, str]]
) -> None:
    tag = unique_tag()
    for i in range(3):
        await create_product(client, admin, name=f"{tag} {i}")
    cursor = (await page(client, q=tag, size=1))["next_cursor"]
    params = filters(tag)

    helpers.problem(await client.get(PRODUCTS, params={**params, "cursor": cursor}), 422, "validation-error")


async def test_a_cursor_is_refused_by_another_listing(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    for i in range(3):
        await create_product(client, admin, name=f"{unique_tag()} {i}")
    cursor = (await page(client, size=1))["next_cursor"]

    on_products = await client.get(PRODUCTS, params={"cursor": cursor, "q": "x"})
    on_users = await client.get("/api/v1/users", params={"cursor": cursor}, headers=admin)

    helpers.problem(on_products, 422, "validation-error")
    assert without_request(helpers.problem(on_users, 422, "validation-error")) == without_request(on_products.json())


async def test_a_cursor_with_a_page_is_a_422(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    for i in range(3):
        await create_product(client, admin, name=f"{unique_tag()} {i}")
    cursor = (await page(client, size=1))["next_cursor"]

    body = helpers.problem(await client.get(PRODUCTS, params={"cursor": cursor, "page": 1}), 422, "validation-error")

    assert [(e["location"], e["pointer"], e["code"]) for e in body["errors"]] == [
        ("query", "#/page", "page_with_cursor")
    ]
