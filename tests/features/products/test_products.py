"""Products through the HTTP API: admin writes, public reads, exact money, strict input, filters and pages."""

import itertools
from typing import Any

import httpx
import pytest

from tests import helpers
from tests.features.products.helpers import create_product
from tests.helpers import error_pointers, problem

PRODUCTS = "/api/v1/products"
ORDERS = "/api/v1/orders"

_tags = itertools.count(1)

type JSON = dict[str, Any]


def unique_tag() -> str:
    """A word that no other product name contains, to scope list assertions to this test's products."""
    return f"zqx{next(_tags)}tag"


async def post_product(client: httpx.AsyncClient, headers: helpers.Headers, body: object) -> httpx.Response:
    return await client.post(PRODUCTS, json=body, headers=headers)


async def post_raw(client: httpx.AsyncClient, headers: helpers.Headers, raw_json: str) -> httpx.Response:
    """POST a body written by hand, so that JSON numbers reach the server exactly as written."""
    return await client.post(
        PRODUCTS, content=raw_json.encode(), headers={**headers, "Content-Type": "application/json"}
    )


async def get_product(client: httpx.AsyncClient, product_id: int) -> JSON:
    response = await client.get(f"{PRODUCTS}/{product_id}")
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    return body


async def list_products(client: httpx.AsyncClient, **params: str | int) -> JSON:
    response = await client.get(PRODUCTS, params=params)
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    return body


def ids(page: JSON) -> list[int]:
    return [item["id"] for item in page["items"]]


# --- Creating ---------------------------------------------------------------------------------------------------


async def test_admin_creates_a_product_with_normalised_fields(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    response = await post_raw(client, admin, '{"name": "  blue \\t widget ", "price": 19.9, "quantity": 3}')

    assert response.status_code == 201, response.text
    created = response.json()
    assert isinstance(created["id"], int)
    assert created["name"] == "blue widget"
    assert created["price"] == "19.90"
    assert created["quantity"] == 3
    assert {"created_at", "updated_at"} <= created.keys()
    assert await get_product(client, created["id"]) == created


async def test_quantity_defaults_to_one(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    response = await post_product(client, admin, {"name": "Single", "price": "5"})

    assert response.status_code == 201, response.text
    assert response.json()["quantity"] == 1


@pytest.mark.parametrize(
    ("raw_price", "shown"),
    [
        ("19.99", "19.99"),
        ('"19.99"', "19.99"),
        ('"19.9"', "19.90"),
        ("100", "100.00"),
        ('"100"', "100.00"),
        ('" 7.50 "', "7.50"),
        ("0.01", "0.01"),
        ('"9999.99"', "9999.99"),
        ("0.1", "0.10"),
    ],
)
async def test_price_is_exact_and_returned_as_a_two_decimal_string(
    client: httpx.AsyncClient, admin: helpers.Headers, raw_price: str, shown: str
) -> None:
    response = await post_raw(client, admin, f'{{"name": "Priced", "price": {raw_price}}}')

    assert response.status_code == 201, response.text
    assert response.json()["price"] == shown
    assert (await get_product(client, response.json()["id"]))["price"] == shown


@pytest.mark.parametrize(
    "raw_price",
    [
        "19.999",
        '"19.999"',
        "0",
        '"0.00"',
        "-1",
        '"-0.01"',
        "10000",
        '"10000.00"',
        "true",
        '"abc"',
        '"NaN"',
        '"Infinity"',
        '""',
        "null",
        "[19.99]",
        '{"amount": 1}',
    ],
)
async def test_invalid_prices_are_422_at_the_price_field(
    client: httpx.AsyncClient, admin: helpers.Headers, raw_price: str
) -> None:
    tag = unique_tag()
    response = await post_raw(client, admin, f'{{"name": "{tag}", "price": {raw_price}}}')

    assert error_pointers(response) == ["#/price"]
    assert (await list_products(client, q=tag))["total"] == 0


@pytest.mark.parametrize("raw_quantity", ['"3"', "2.5", "3.0", "-1", "true", "null", "1000001"])
async def test_invalid_quantities_are_422_at_the_quantity_field(
    client: httpx.AsyncClient, admin: helpers.Headers, raw_quantity: str
) -> None:
    response = await post_raw(client, admin, f'{{"name": "Counted", "price": "1.00", "quantity": {raw_quantity}}}')

    assert error_pointers(response) == ["#/quantity"]


async def test_zero_stock_is_a_valid_quantity(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    response = await post_product(client, admin, {"name": "Sold Out", "price": "1.00", "quantity": 0})

    assert response.status_code == 201, response.text
    assert response.json()["quantity"] == 0


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, 123, None, ["widget"]])
async def test_invalid_names_are_422_at_the_name_field(
    client: httpx.AsyncClient, admin: helpers.Headers, name: object
) -> None:
    response = await post_product(client, admin, {"name": name, "price": "1.00"})

    assert error_pointers(response) == ["#/name"]


async def test_a_name_of_exactly_200_characters_is_accepted(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    response = await post_product(client, admin, {"name": "a" * 200, "price": "1.00"})

    assert response.status_code == 201, response.text
    assert response.json()["name"] == "a" * 200


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("McDonald's 2nd edition", "McDonald's 2nd edition"),
        ("iPhone 15 pro", "iPhone 15 pro"),
        ("USB-C cable", "USB-C cable"),
        ("straße ß", "straße ß"),
        ("  spaced\u00a0\u00a0out \n name\t", "spaced out name"),  # no-break spaces, a newline, a tab
        ("Cafe\u0301 de\u0301ja\u0300", "Café déjà"),  # decomposed accents: NFC composes them
    ],
)
async def test_a_name_is_kept_as_typed_but_for_white_space_and_nfc(
    client: httpx.AsyncClient, admin: helpers.Headers, sent: str, stored: str
) -> None:
    created = await post_product(client, admin, {"name": sent, "price": "1.00"})
    assert created.status_code == 201, created.text
    assert created.json()["name"] == stored
    renamed = await client.patch(f"{PRODUCTS}/{created.json()['id']}", json={"name": sent}, headers=admin)
    assert renamed.json()["name"] == stored
    assert (await get_product(client, created.json()["id"]))["name"] == stored


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_a_nul_in_a_name_is_422_at_its_pointer_on_every_database(
    client: httpx.AsyncClient, admin: helpers.Headers, method: str
) -> None:
    """SQLite stored it; PostgreSQL refused it in the database, with no pointer. Now validation refuses it."""
    tag = unique_tag()
    product = await create_product(client, admin, name=tag)
    name = f"{tag} nul\u0000"
    if method == "POST":
        response = await post_product(client, admin, {"name": name, "price": "1.00"})
    else:
        response = await client.patch(f"{PRODUCTS}/{product['id']}", json={"name": name}, headers=admin)
    assert error_pointers(response) == ["#/name"]
    assert [error["code"] for error in response.json()["errors"]] == ["string_nul"]
    assert ids(await list_products(client, q=tag)) == [product["id"]]
    assert (await get_product(client, product["id"]))["name"] == tag


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_a_name_that_normalising_changes_never_exceeds_the_limit(
    client: httpx.AsyncClient, admin: helpers.Headers, method: str
) -> None:
    name = "\u0958" * 200  # DEVANAGARI LETTER QA: NFC decomposes it into two code points (400 once normalised)
    if method == "POST":
        response = await post_product(client, admin, {"name": name, "price": "1.00"})
    else:
        product = await create_product(client, admin)
        response = await client.patch(f"{PRODUCTS}/{product['id']}", json={"name": name}, headers=admin)

    assert error_pointers(response) == ["#/name"]


@pytest.mark.parametrize("field", ["color", "id", "created_at", "Name"])
async def test_unknown_fields_are_422_with_their_pointer(
    client: httpx.AsyncClient, admin: helpers.Headers, field: str
) -> None:
    tag = unique_tag()
    response = await post_product(client, admin, {"name": tag, "price": "1.00", field: 1})

    assert error_pointers(response) == [f"#/{field}"]
    assert (await list_products(client, q=tag))["total"] == 0


@pytest.mark.parametrize(("body", "missing"), [({"price": "1.00"}, "#/name"), ({"name": "Nameless"}, "#/price")])
async def test_missing_required_fields_are_422(
    client: httpx.AsyncClient, admin: helpers.Headers, body: JSON, missing: str
) -> None:
    assert error_pointers(await post_product(client, admin, body)) == [missing]


# --- Who may write ----------------------------------------------------------------------------------------------


async def test_writes_without_a_token_are_401(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    product = await create_product(client, admin, name="Guarded", price="2.00", quantity=4)
    url = f"{PRODUCTS}/{product['id']}"

    responses = [
        await client.post(PRODUCTS, json={"name": "Sneaky", "price": "1.00"}),
        await client.patch(url, json={"price": "0.01"}),
        await client.delete(url),
    ]

    for response in responses:
        problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"] == "Bearer"
    assert await get_product(client, product["id"]) == product
    assert (await list_products(client, q="sneaky"))["total"] == 0


async def test_writes_by_an_ordinary_user_are_403(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    product = await create_product(client, admin, name="Guarded", price="2.00", quantity=4)
    url = f"{PRODUCTS}/{product['id']}"

    responses = [
        await client.post(PRODUCTS, json={"name": "Sneaky", "price": "1.00"}, headers=user),
        await client.patch(url, json={"price": "0.01"}, headers=user),
        await client.delete(url, headers=user),
    ]

    for response in responses:
        problem(response, 403, "forbidden")
    assert await get_product(client, product["id"]) == product
    assert (await list_products(client, q="sneaky"))["total"] == 0


async def test_an_invalid_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        PRODUCTS, json={"name": "Sneaky", "price": "1.00"}, headers=helpers.bearer("not-a-token")
    )

    problem(response, 401, "unauthenticated")


async def test_anyone_reads_without_a_token(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    product = await create_product(client, admin, name="Public", price="3.00", quantity=2)

    one = await client.get(f"{PRODUCTS}/{product['id']}")
    listed = await client.get(PRODUCTS)

    assert one.status_code == 200
    assert one.json() == product
    assert listed.status_code == 200
    assert product in listed.json()["items"]


# --- Reading, updating and deleting one ---------------------------------------------------------------------------


async def test_admin_updates_some_fields_and_the_others_stay(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    product = await create_product(client, admin, name="Old Name", price="9.99", quantity=5)
    url = f"{PRODUCTS}/{product['id']}"

    renamed = await client.patch(url, json={"name": "  new name  "}, headers=admin)
    repriced = await client.patch(url, json={"price": "12.5", "quantity": 0}, headers=admin)

    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "new name"
    assert renamed.json()["price"] == "9.99"
    assert renamed.json()["quantity"] == 5
    assert repriced.status_code == 200, repriced.text
    stored = await get_product(client, product["id"])
    assert stored == repriced.json()
    assert (stored["id"], stored["name"], stored["price"], stored["quantity"]) == (
        product["id"],
        "new name",
        "12.50",
        0,
    )
    assert stored["created_at"] == product["created_at"]


async def test_update_accepts_a_json_number_price(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    product = await create_product(client, admin)
    response = await client.patch(
        f"{PRODUCTS}/{product['id']}",
        content=b'{"price": 0.3}',
        headers={**admin, "Content-Type": "application/json"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["price"] == "0.30"


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "#"),
        ({"name": None}, "#"),
        ({"price": None}, "#"),
        ({"quantity": None}, "#"),
        ({"name": "   "}, "#/name"),
        ({"price": "19.999"}, "#/price"),
        ({"price": 0}, "#/price"),
        ({"quantity": -1}, "#/quantity"),
        ({"quantity": "3"}, "#/quantity"),
        ({"colour": "red"}, "#/colour"),
    ],
)
async def test_invalid_updates_are_422_and_change_nothing(
    client: httpx.AsyncClient, admin: helpers.Headers, body: JSON, pointer: str
) -> None:
    product = await create_product(client, admin, name="Stable", price="4.00", quantity=7)

    response = await client.patch(f"{PRODUCTS}/{product['id']}", json=body, headers=admin)

    assert error_pointers(response) == [pointer]
    assert await get_product(client, product["id"]) == product


async def test_admin_deletes_a_product(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    tag = unique_tag()
    product = await create_product(client, admin, name=tag)

    response = await client.delete(f"{PRODUCTS}/{product['id']}", headers=admin)

    assert response.status_code == 204
    assert response.content == b""
    problem(await client.get(f"{PRODUCTS}/{product['id']}"), 404, "not-found")
    assert (await list_products(client, q=tag))["total"] == 0
    problem(await client.delete(f"{PRODUCTS}/{product['id']}", headers=admin), 404, "not-found")


async def test_a_product_in_an_order_cannot_be_deleted(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    tag = unique_tag()
    product = await create_product(client, admin, name=tag, price="2.50", quantity=5)
    order = await client.post(ORDERS, json={"items": [{"product_id": product["id"], "quantity": 2}]}, headers=user)
    assert order.status_code == 201, order.text

    response = await client.delete(f"{PRODUCTS}/{product['id']}", headers=admin)

    body = problem(response, 409, "conflict")
    assert str(product["id"]) in body["detail"]
    still_there = await get_product(client, product["id"])
    assert still_there["quantity"] == 3
    assert ids(await list_products(client, q=tag)) == [product["id"]]
    assert (await client.get(f"{ORDERS}/{order.json()['id']}", headers=user)).json() == order.json()


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_an_unknown_product_is_404_problem(
    client: httpx.AsyncClient, admin: helpers.Headers, method: str
) -> None:
    product = await create_product(client, admin)
    await client.delete(f"{PRODUCTS}/{product['id']}", headers=admin)  # an id that surely no longer exists

    body = {"name": "Ghost"} if method == "PATCH" else None
    response = await client.request(method, f"{PRODUCTS}/{product['id']}", json=body, headers=admin)

    problem(response, 404, "not-found")


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("product_id", ["0", "-1", str(2**31), "abc", "1.5"])
async def test_an_out_of_range_id_is_422(
    client: httpx.AsyncClient, admin: helpers.Headers, method: str, product_id: str
) -> None:
    body = {"name": "Ghost"} if method == "PATCH" else None
    response = await client.request(method, f"{PRODUCTS}/{product_id}", json=body, headers=admin)

    assert "#/product_id" in error_pointers(response)


async def test_the_largest_id_is_a_404_not_a_database_error(client: httpx.AsyncClient) -> None:
    problem(await client.get(f"{PRODUCTS}/{2**31 - 1}"), 404, "not-found")


# --- Listing: filters -------------------------------------------------------------------------------------------


async def test_the_list_is_a_page(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    tag = unique_tag()
    product = await create_product(client, admin, name=tag, price="1.00")

    page = await list_products(client)
    mine = await list_products(client, q=tag)

    assert set(page) == {"items", "total", "page", "size", "pages", "next_cursor"}
    assert (page["page"], page["size"]) == (1, 20)
    assert page["total"] >= 1
    assert page["pages"] == -(-page["total"] // 20)
    assert len(page["items"]) == min(page["total"], 20)
    assert mine == {"items": [product], "total": 1, "page": 1, "size": 20, "pages": 1, "next_cursor": None}


async def test_q_is_a_case_insensitive_name_substring(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    tag = unique_tag()
    apple = await create_product(client, admin, name=f"red apple {tag}")
    pie = await create_product(client, admin, name=f"{tag} green APPLE pie")
    await create_product(client, admin, name=f"banana {tag}")
    await create_product(client, admin, name="apple without the tag")

    for q in (f"APPLE {tag}".upper(), f"apple {tag}"):
        assert ids(await list_products(client, q=q)) == [apple["id"]]
    page = await list_products(client, q=tag.upper())
    assert page["total"] == 3
    assert [p["id"] for p in page["items"] if "apple" in p["name"].lower()] == [apple["id"], pie["id"]]


async def test_q_treats_percent_and_underscore_literally(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    tag = unique_tag()
    percent = await create_product(client, admin, name=f"100% cotton {tag}")
    await create_product(client, admin, name=f"1000 cotton {tag}")
    await create_product(client, admin, name=f"100 percent cotton {tag}")
    underscore = await create_product(client, admin, name=f"snake_case {tag}")
    await create_product(client, admin, name=f"snakeXcase {tag}")
    slash = await create_product(client, admin, name=f"ac/dc {tag}")
    await create_product(client, admin, name=f"acdc {tag}")

    assert ids(await list_products(client, q="100%")) == [percent["id"]]
    assert ids(await list_products(client, q="e_c")) == [underscore["id"]]
    assert ids(await list_products(client, q="c/d")) == [slash["id"]]
    assert (await list_products(client, q="%"))["total"] == 1
    assert (await list_products(client, q="_"))["total"] == 1


async def test_a_nul_in_the_name_filter_is_422_at_its_pointer_on_every_database(client: httpx.AsyncClient) -> None:
    response = await client.get(PRODUCTS, params={"q": "widget\u0000"})
    assert error_pointers(response) == ["#/q"]


async def test_q_is_case_insensitive_beyond_ascii(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    tag = unique_tag()
    product = await create_product(client, admin, name=f"über widget {tag}")
    assert product["name"].startswith("über widget")

    assert ids(await list_products(client, q=f"über widget {tag}")) == [product["id"]]
    assert ids(await list_products(client, q=f"ÜBER WIDGET {tag}")) == [product["id"]]


async def test_price_range_is_inclusive(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    tag = unique_tag()
    prices = ["5.00", "19.99", "20.00", "35.50", "0.10"]
    made = {price: (await create_product(client, admin, name=tag, price=price))["id"] for price in prices}

    both = await list_products(client, q=tag, min_price="19.99", max_price="20.00")
    low = await list_products(client, q=tag, max_price="5")
    high = await list_products(client, q=tag, min_price="20")
    exact = await list_products(client, q=tag, min_price="0.1", max_price="0.10")

    assert ids(both) == [made["19.99"], made["20.00"]]
    assert both["total"] == 2
    assert ids(low) == [made["5.00"], made["0.10"]]
    assert ids(high) == [made["20.00"], made["35.50"]]
    assert ids(exact) == [made["0.10"]]
    assert [p["price"] for p in both["items"]] == ["19.99", "20.00"]


async def test_filters_combine(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    tag = unique_tag()
    cheap_lamp = await create_product(client, admin, name=f"lamp {tag}", price="10.00")
    await create_product(client, admin, name=f"lamp {tag}", price="90.00")
    await create_product(client, admin, name=f"chair {tag}", price="10.00")

    page = await list_products(client, q=f"LAMP {tag}", max_price="50")

    assert ids(page) == [cheap_lamp["id"]]
    assert page["total"] == 1


@pytest.mark.parametrize(
    "params",
    [
        {"min_price": "5", "max_price": "4.99"},
        {"min_price": "abc"},
        {"max_price": "NaN"},
        {"min_price": "-1"},
        {"max_price": "1.001"},
        {"q": "x" * 101},
    ],
)
async def test_invalid_filters_are_422(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await client.get(PRODUCTS, params=params)

    problem(response, 422, "validation-error")


async def test_a_price_bound_beyond_any_stored_price_finds_nothing_rather_than_failing(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    await create_product(client, admin, price="9999.99")

    response = await client.get(PRODUCTS, params={"min_price": "100000000"})

    assert response.status_code < 500, response.text
    if response.status_code == 200:
        assert response.json()["items"] == []


# --- Listing: order and pages -----------------------------------------------------------------------------------


async def test_the_list_is_ordered_by_id_whatever_the_names_prices_or_updates(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    tag = unique_tag()
    made = [
        (await create_product(client, admin, name=f"{letter} {tag}", price=price))["id"]
        for letter, price in [("c", "3.00"), ("a", "1.00"), ("b", "9.00"), ("d", "0.50")]
    ]
    await client.patch(f"{PRODUCTS}/{made[0]}", json={"name": f"z {tag}"}, headers=admin)

    assert made == sorted(made)
    assert ids(await list_products(client, q=tag)) == made
    assert ids(await list_products(client, q=tag)) == made  # and again: stable


async def test_pages_cover_every_product_once(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    tag = unique_tag()
    made = [(await create_product(client, admin, name=f"{tag} {i}"))["id"] for i in range(5)]

    pages = [await list_products(client, q=tag, size=2, page=number) for number in (1, 2, 3)]

    assert [ids(page) for page in pages] == [made[0:2], made[2:4], made[4:5]]
    for number, page in enumerate(pages, start=1):
        assert (page["total"], page["page"], page["size"], page["pages"]) == (5, number, 2, 3)


async def test_a_page_past_the_end_is_empty_with_the_right_total(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    tag = unique_tag()
    for i in range(3):
        await create_product(client, admin, name=f"{tag} {i}")

    page = await list_products(client, q=tag, size=2, page=7)

    assert page == {"items": [], "total": 3, "page": 7, "size": 2, "pages": 2, "next_cursor": None}


async def test_an_empty_result_has_zero_pages(client: httpx.AsyncClient) -> None:
    page = await list_products(client, q=unique_tag())

    assert page == {"items": [], "total": 0, "page": 1, "size": 20, "pages": 0, "next_cursor": None}


async def test_the_largest_page_size_is_accepted(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    tag = unique_tag()
    await create_product(client, admin, name=tag)

    page = await list_products(client, q=tag, size=100)

    assert (page["size"], page["total"], page["pages"]) == (100, 1, 1)


@pytest.mark.parametrize(
    ("params", "pointer"),
    [({"size": 101}, "#/size"), ({"size": 0}, "#/size"), ({"page": 0}, "#/page"), ({"page": "x"}, "#/page")],
)
async def test_invalid_pagination_is_422(client: httpx.AsyncClient, params: dict[str, str | int], pointer: str) -> None:
    response = await client.get(PRODUCTS, params=params)

    assert error_pointers(response) == [pointer]
