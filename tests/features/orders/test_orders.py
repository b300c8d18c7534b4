"""Orders through the HTTP API: server-side totals in exact decimals, stock reservation, atomicity, ownership."""

from collections.abc import Callable

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests import helpers
from tests.features.orders.helpers import JSON, ORDERS, PRODUCTS, line, place, placed, stock
from tests.features.products.helpers import create_product
from tests.helpers import error_pointers, problem
from tests.support.accounts import set_email_verified


async def my_orders(client: httpx.AsyncClient, headers: helpers.Headers, **params: int) -> JSON:
    response = await client.get(ORDERS, headers=headers, params=params)
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    return body


# --- Placing ----------------------------------------------------------------------------------------------------


@pytest.mark.settings(require_verified_email=True)
async def test_with_verified_addresses_required_placing_needs_one_by_token_or_api_key(
    client: httpx.AsyncClient, db_session: AsyncSession, admin: helpers.Headers, user: helpers.Headers
) -> None:
    product = await create_product(client, admin, name="verified only", price="1.00", quantity=5)
    await set_email_verified(client, db_session, user, verified=True)
    issued = await client.post("/api/v1/api-keys", json={"name": "shop", "scopes": ["orders:write"]}, headers=user)
    assert issued.status_code == 201, issued.text
    key = {"X-API-Key": issued.json()["key"]}
    await set_email_verified(client, db_session, user, verified=False)

    for caller in (user, key):
        problem(await place(client, caller, line(product["id"], 1)), 403, "email-not-verified")
    assert await stock(client, product["id"]) == 5  # nothing placed
    assert (await client.get(ORDERS, headers=user)).status_code == 200  # reading needs no verified address

    await set_email_verified(client, db_session, user, verified=True)
    for caller in (user, key):
        assert (await place(client, caller, line(product["id"], 1))).status_code == 201
    assert await stock(client, product["id"]) == 3


async def test_placing_an_order_computes_an_exact_total_and_takes_stock(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    dime = await create_product(client, admin, name="dime sticker", price="0.10", quantity=10)

    response = await place(client, user, line(dime["id"], 3))

    assert response.status_code == 201, response.text
    order = response.json()
    assert isinstance(order["id"], int)
    assert order["status"] == "placed"
    assert order["total"] == "0.30"
    assert order["items"] == [
        {"product_id": dime["id"], "product_name": "dime sticker", "quantity": 3, "unit_price": "0.10"}
    ]
    assert "created_at" in order
    assert await stock(client, dime["id"]) == 7


async def test_the_total_sums_every_line(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    first = await create_product(client, admin, name="first", price="19.99", quantity=5)
    second = await create_product(client, admin, name="second", price="0.01", quantity=5)
    third = await create_product(client, admin, name="third", price="0.70", quantity=5)

    order = await placed(client, user, line(first["id"], 2), line(second["id"], 1), line(third["id"], 3))

    assert order["total"] == "42.09"  # 39.98 + 0.01 + 2.10; in binary floats 0.7 * 3 is 2.0999999999999996
    assert [(i["product_id"], i["quantity"], i["unit_price"]) for i in order["items"]] == [
        (first["id"], 2, "19.99"),
        (second["id"], 1, "0.01"),
        (third["id"], 3, "0.70"),
    ]
    assert [await stock(client, p["id"]) for p in (first, second, third)] == [3, 4, 2]


async def test_a_large_order_total_stays_exact(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    dear = await create_product(client, admin, name="dear", price="9999.99", quantity=1000)

    order = await placed(client, user, line(dear["id"], 1000))

    assert order["total"] == "9999990.00"
    assert await stock(client, dear["id"]) == 0


async def test_duplicate_product_lines_are_merged(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    widget = await create_product(client, admin, name="widget", price="1.25", quantity=10)
    gadget = await create_product(client, admin, name="gadget", price="2.00", quantity=10)

    order = await placed(
        client, user, line(widget["id"], 1), line(gadget["id"], 1), line(widget["id"], 2), line(widget["id"], 1)
    )

    assert [(i["product_id"], i["quantity"]) for i in order["items"]] == [(widget["id"], 4), (gadget["id"], 1)]
    assert order["total"] == "7.00"
    assert await stock(client, widget["id"]) == 6
    assert await stock(client, gadget["id"]) == 9


async def test_an_order_may_take_the_last_unit(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    scarce = await create_product(client, admin, name="scarce", price="5.00", quantity=2)

    await placed(client, user, line(scarce["id"], 2))

    assert await stock(client, scarce["id"]) == 0
    body = problem(await place(client, user, line(scarce["id"], 1)), 409, "insufficient-stock")
    assert (body["product_id"], body["requested"], body["available"]) == (scarce["id"], 1, 0)
    assert await stock(client, scarce["id"]) == 0


async def test_the_order_keeps_the_name_and_price_it_was_placed_at(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    product = await create_product(client, admin, name="lamp", price="30.00", quantity=5)
    order = await placed(client, user, line(product["id"], 2))

    changed = await client.patch(
        f"{PRODUCTS}/{product['id']}", json={"name": "deluxe lamp", "price": "45.00"}, headers=admin
    )
    assert changed.status_code == 200, changed.text

    again = await client.get(f"{ORDERS}/{order['id']}", headers=user)
    assert again.status_code == 200
    assert again.json() == order
    assert again.json()["items"][0]["product_name"] == "lamp"
    assert again.json()["total"] == "60.00"


# --- Refusing: stock --------------------------------------------------------------------------------------------


async def test_short_stock_is_409_with_the_numbers(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    product = await create_product(client, admin, name="rare", price="3.00", quantity=2)

    response = await place(client, user, line(product["id"], 3))

    body = problem(response, 409, "insufficient-stock")
    assert body["type"].endswith("insufficient-stock")
    assert (body["product_id"], body["requested"], body["available"]) == (product["id"], 3, 2)
    assert await stock(client, product["id"]) == 2
    assert (await my_orders(client, user))["total"] == 0


async def test_merged_lines_are_checked_against_stock_together(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    product = await create_product(client, admin, name="rare", price="3.00", quantity=3)

    response = await place(client, user, line(product["id"], 2), line(product["id"], 2))

    body = problem(response, 409, "insufficient-stock")
    assert (body["product_id"], body["requested"], body["available"]) == (product["id"], 4, 3)
    assert await stock(client, product["id"]) == 3


@pytest.mark.parametrize("short_line_first", [False, True])
async def test_a_short_line_writes_nothing_at_all(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers, short_line_first: bool
) -> None:
    plenty = await create_product(client, admin, name="plenty", price="1.00", quantity=10)
    short = await create_product(client, admin, name="short", price="1.00", quantity=1)
    assert plenty["id"] < short["id"]  # `plenty` is reserved first: the failure comes after a real reservation
    lines = [line(plenty["id"], 4), line(short["id"], 2)]

    response = await place(client, user, *(reversed(lines) if short_line_first else lines))

    body = problem(response, 409, "insufficient-stock")
    assert (body["product_id"], body["requested"], body["available"]) == (short["id"], 2, 1)
    assert await stock(client, plenty["id"]) == 10
    assert await stock(client, short["id"]) == 1
    assert (await my_orders(client, user))["total"] == 0
    # Nothing refers to `plenty`: no order item row was left behind, so an admin may still delete it.
    assert (await client.delete(f"{PRODUCTS}/{plenty['id']}", headers=admin)).status_code == 204


# --- Refusing: invalid input ------------------------------------------------------------------------------------


async def test_an_unknown_product_is_422_pointing_at_its_line(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    known = await create_product(client, admin, name="known", price="1.00", quantity=5)
    gone = await create_product(client, admin, name="gone")
    assert (await client.delete(f"{PRODUCTS}/{gone['id']}", headers=admin)).status_code == 204

    response = await place(client, user, line(known["id"], 2), line(gone["id"], 1))

    body = problem(response, 422, "validation-error")
    assert [e["pointer"] for e in body["errors"]] == ["#/items/1/product_id"]
    assert await stock(client, known["id"]) == 5
    assert (await my_orders(client, user))["total"] == 0


INVALID_BODIES: list[tuple[str, Callable[[int], JSON], str]] = [
    ("client total", lambda p: {"items": [line(p, 1)], "total": "0.01"}, "#/total"),
    ("client price", lambda p: {"items": [{"product_id": p, "quantity": 1, "price": "0.01"}]}, "#/items/0/price"),
    ("client unit price", lambda p: {"items": [{**line(p, 1), "unit_price": 0}]}, "#/items/0/unit_price"),
    ("no items", lambda _: {"items": []}, "#/items"),
    ("missing items", lambda _: {}, "#/items"),
    ("null items", lambda _: {"items": None}, "#/items"),
    ("zero quantity", lambda p: {"items": [line(p, 0)]}, "#/items/0/quantity"),
    ("negative quantity", lambda p: {"items": [line(p, -2)]}, "#/items/0/quantity"),
    ("too many units", lambda p: {"items": [line(p, 1001)]}, "#/items/0/quantity"),
    ("string quantity", lambda p: {"items": [{"product_id": p, "quantity": "1"}]}, "#/items/0/quantity"),
    ("fractional quantity", lambda p: {"items": [{"product_id": p, "quantity": 1.5}]}, "#/items/0/quantity"),
    ("boolean quantity", lambda p: {"items": [{"product_id": p, "quantity": True}]}, "#/items/0/quantity"),
    ("missing quantity", lambda p: {"items": [{"product_id": p}]}, "#/items/0/quantity"),
    ("zero product id", lambda p: {"items": [line(p, 1), line(0, 1)]}, "#/items/1/product_id"),
    ("product id out of range", lambda p: {"items": [line(p, 1), line(2**31, 1)]}, "#/items/1/product_id"),
    ("string product id", lambda p: {"items": [{"product_id": str(p), "quantity": 1}]}, "#/items/0/product_id"),
    ("too many lines", lambda p: {"items": [line(p, 1)] * 51}, "#/items"),
]


@pytest.mark.parametrize(
    ("make_body", "pointer"),
    [(make, pointer) for _, make, pointer in INVALID_BODIES],
    ids=[i for i, *_ in INVALID_BODIES],
)
async def test_invalid_order_bodies_are_422_and_take_no_stock(
    client: httpx.AsyncClient,
    admin: helpers.Headers,
    user: helpers.Headers,
    make_body: Callable[[int], JSON],
    pointer: str,
) -> None:
    product = await create_product(client, admin, name="target", price="0.01", quantity=100)

    response = await client.post(ORDERS, json=make_body(product["id"]), headers=user)

    assert error_pointers(response) == [pointer]
    assert await stock(client, product["id"]) == 100
    assert (await my_orders(client, user))["total"] == 0


async def test_an_order_body_must_be_json(client: httpx.AsyncClient, user: helpers.Headers) -> None:
    response = await client.post(ORDERS, content=b"items=1", headers={**user, "Content-Type": "text/plain"})

    problem(response, 415, "unsupported-media-type")


# --- Reading ----------------------------------------------------------------------------------------------------


async def test_the_owner_and_an_admin_read_an_order_and_others_get_404(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    product = await create_product(client, admin, price="2.00", quantity=5)
    order = await placed(client, user, line(product["id"], 1))
    stranger = await helpers.user_headers(client)
    url = f"{ORDERS}/{order['id']}"

    by_owner = await client.get(url, headers=user)
    by_admin = await client.get(url, headers=admin)
    by_stranger = await client.get(url, headers=stranger)

    assert by_owner.status_code == 200
    assert by_owner.json() == order
    assert by_admin.status_code == 200
    assert by_admin.json() == order
    body = problem(by_stranger, 404, "not-found")
    assert body["detail"] == f"Order {order['id']} does not exist."


async def test_a_strangers_order_and_a_missing_order_look_the_same(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    product = await create_product(client, admin, price="2.00", quantity=5)
    order = await placed(client, user, line(product["id"], 1))
    stranger = await helpers.user_headers(client)
    missing_id = 2**31 - 1

    others = problem(await client.get(f"{ORDERS}/{order['id']}", headers=stranger), 404, "not-found")
    missing = problem(await client.get(f"{ORDERS}/{missing_id}", headers=stranger), 404, "not-found")

    assert set(others) == set(missing)
    assert others["title"] == missing["title"]
    assert others["detail"].replace(str(order["id"]), "ID") == missing["detail"].replace(str(missing_id), "ID")


@pytest.mark.parametrize("order_id", ["0", str(2**31), "abc"])
async def test_an_out_of_range_order_id_is_422(client: httpx.AsyncClient, user: helpers.Headers, order_id: str) -> None:
    assert error_pointers(await client.get(f"{ORDERS}/{order_id}", headers=user)) == ["#/order_id"]


async def test_an_order_is_read_by_its_canonical_id_only(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    product = await create_product(client, admin, price="2.00", quantity=5)
    order_id = str((await placed(client, user, line(product["id"], 1)))["id"])
    assert (await client.get(f"{ORDERS}/{order_id}", headers=user)).status_code == 200

    # Each of these answered 200 with the order before (the probe: /orders/1.0, /%2B1, /%201, /01, /1_0).
    for spelling in (f"{order_id}.0", f"{order_id}.00000", f"%2B{order_id}", f"%20{order_id}", f"0{order_id}"):
        response = await client.get(f"{ORDERS}/{spelling}", headers=user)
        assert error_pointers(response) == ["#/order_id"], spelling
    underscored = f"{order_id[0]}_{order_id[1:]}" if len(order_id) > 1 else f"0_{order_id}"
    assert error_pointers(await client.get(f"{ORDERS}/{underscored}", headers=user)) == ["#/order_id"]


async def test_the_list_holds_only_my_orders_newest_first(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    product = await create_product(client, admin, price="1.00", quantity=50)
    stranger = await helpers.user_headers(client)
    mine = []
    for quantity in (1, 2, 3):
        mine.append(await placed(client, user, line(product["id"], quantity)))
        await placed(client, stranger, line(product["id"], 1))

    page = await my_orders(client, user)

    assert page["items"] == list(reversed(mine))
    assert (page["total"], page["page"], page["size"], page["pages"]) == (3, 1, 20, 1)
    assert (await my_orders(client, admin))["total"] == 0  # admins also list only their own


async def test_the_order_list_pages(client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers) -> None:
    product = await create_product(client, admin, price="1.00", quantity=50)
    made = [(await placed(client, user, line(product["id"], 1)))["id"] for _ in range(3)]

    first = await my_orders(client, user, size=2, page=1)
    second = await my_orders(client, user, size=2, page=2)
    beyond = await my_orders(client, user, size=2, page=3)

    assert [o["id"] for o in first["items"]] == [made[2], made[1]]
    assert [o["id"] for o in second["items"]] == [made[0]]
    assert beyond["items"] == []
    assert {(p["total"], p["pages"]) for p in (first, second, beyond)} == {(3, 2)}
    assert error_pointers(await client.get(ORDERS, headers=user, params={"size": 101})) == ["#/size"]


async def test_a_new_user_has_an_empty_list(client: httpx.AsyncClient, user: helpers.Headers) -> None:
    assert await my_orders(client, user) == {
        "items": [],
        "total": 0,
        "page": 1,
        "size": 20,
        "pages": 0,
        "next_cursor": None,
    }


# --- Authentication ---------------------------------------------------------------------------------------------


async def test_orders_need_a_token(client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers) -> None:
    product = await create_product(client, admin, price="1.00", quantity=5)
    order = await placed(client, user, line(product["id"], 1))

    responses = [
        await client.post(ORDERS, json={"items": [line(product["id"], 1)]}),
        await client.get(ORDERS),
        await client.get(f"{ORDERS}/{order['id']}"),
        await client.get(ORDERS, headers=helpers.bearer("not-a-token")),
    ]

    for response in responses:
        problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"] == "Bearer"
    assert await stock(client, product["id"]) == 4


async def test_a_refresh_token_does_not_place_an_order(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    product = await create_product(client, admin, price="1.00", quantity=5)
    account = await helpers.register(client)
    tokens = await helpers.login(client, account["email"])

    response = await client.post(
        ORDERS, json={"items": [line(product["id"], 1)]}, headers=helpers.bearer(tokens["refresh_token"])
    )

    problem(response, 401, "unauthenticated")
    assert await stock(client, product["id"]) == 5
