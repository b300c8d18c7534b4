"""Products in the admin console go through the products service: the API's validation and its words, the same
events and audit entries (the signed-in administrator's), and nothing written when the service refuses (SQLite and
PostgreSQL)."""

from typing import Any

import httpx
from sqlalchemy import select

from app.core.context import AppContext
from app.core.events import Event
from tests import helpers
from tests.support.console import account, audit_entries, post_form, row_action, sign_in

PRODUCTS = "/api/v1/products"
CREATE = "/admin/products/create"


async def _admin_id(http: httpx.AsyncClient, admin: helpers.Headers) -> int:
    user_id: int = (await http.get("/api/v1/users/me", headers=admin)).json()["id"]
    return user_id


async def _signed_in(context: AppContext, http: httpx.AsyncClient) -> helpers.Headers:
    """Sign an administrator in to the console; its API token, for arranging and checking through the API."""
    email = await account(context)
    assert (await sign_in(http, email)).status_code == 303
    return helpers.bearer((await helpers.login(http, email))["access_token"])


async def _events(context: AppContext, product_id: int) -> list[tuple[str, dict[str, Any]]]:
    async with context.database.session(writes=False) as session:
        events = (await session.scalars(select(Event).where(Event.type.like("product.%")).order_by(Event.id))).all()
    return [(event.type, event.data) for event in events if event.data["id"] == product_id]


async def test_a_price_with_three_decimals_is_refused_with_the_apis_words(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    admin = await _signed_in(context, console_client)
    api = await console_client.post(PRODUCTS, json={"name": "Kettle", "price": "19.999", "quantity": 2}, headers=admin)
    [error] = api.json()["errors"]

    refused = await post_form(console_client, CREATE, {"name": "Kettle", "price": "19.999", "quantity": "2"})

    assert refused.status_code == 422
    assert error["detail"] in refused.text
    assert (await console_client.get(PRODUCTS, params={"q": "Kettle"})).json()["total"] == 0
    assert await audit_entries(context, refused) == []
    fixed = await post_form(console_client, CREATE, {"name": "Kettle", "price": "19.99", "quantity": "2"})
    assert fixed.status_code == 303, fixed.text
    [product] = (await console_client.get(PRODUCTS, params={"q": "Kettle"})).json()["items"]
    assert (product["price"], product["quantity"]) == ("19.99", 2)
    [entry] = await audit_entries(context, fixed)
    assert (entry.action, entry.target_id, entry.actor_user_id) == (
        "product.create",
        str(product["id"]),
        await _admin_id(console_client, admin),
    )
    assert (entry.before, entry.after) == (None, {"name": "Kettle", "price": "19.99", "quantity": 2})


async def test_an_edit_in_the_console_records_the_apis_product_updated_event(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    admin = await _signed_in(context, console_client)
    created = await console_client.post(PRODUCTS, json={"name": "Lamp", "price": "12.50", "quantity": 3}, headers=admin)
    product_id = created.json()["id"]
    edit = f"/admin/products/edit?pk={product_id}"

    edited = await post_form(console_client, edit, {"name": "Lamp", "price": "11.00", "quantity": "3"})

    assert edited.status_code == 303, edited.text
    [entry] = await audit_entries(context, edited)
    assert (entry.action, entry.before, entry.after) == ("product.update", {"price": "12.50"}, {"price": "11.00"})
    assert entry.actor_user_id == await _admin_id(console_client, admin)
    assert await _events(context, product_id) == [
        ("product.created", {"id": product_id, "name": "Lamp", "price": "12.50", "quantity": 3}),
        ("product.updated", {"id": product_id, "name": "Lamp", "price": "11.00", "quantity": 3, "changed": ["price"]}),
    ]


async def test_a_product_in_an_order_is_not_deleted_from_the_console(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    await _signed_in(context, console_client)
    created = await post_form(console_client, CREATE, {"name": "Mug", "price": "4.50", "quantity": "5"})
    assert created.status_code == 303
    [product] = (await console_client.get(PRODUCTS, params={"q": "Mug"})).json()["items"]
    customer = await helpers.user_headers(console_client)
    order = {"items": [{"product_id": product["id"], "quantity": 1}]}
    assert (await console_client.post("/api/v1/orders", json=order, headers=customer)).status_code == 201

    refused = await row_action(console_client, "products", "delete", product["id"])

    assert refused.status_code == 400, refused.text
    assert await audit_entries(context, refused) == []
    assert "appears in orders" in refused.text
    assert (await console_client.get(f"{PRODUCTS}/{product['id']}")).status_code == 200
    assert [kind for kind, _ in await _events(context, product["id"])] == ["product.created"]


async def test_the_list_searches_and_sorts_through_the_service(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    admin = await _signed_in(context, console_client)
    for name, price in [("Blue cup", "3.00"), ("Red cup", "9.00"), ("Plate", "5.00")]:
        await console_client.post(PRODUCTS, json={"name": name, "price": price, "quantity": 1}, headers=admin)

    listed = await console_client.get("/admin/products/list", params={"q": "cup", "sort": "price__desc"})

    assert listed.status_code == 200
    assert "Plate" not in listed.text
    assert listed.text.index("Red cup") < listed.text.index("Blue cup")


async def test_a_delete_in_the_console_is_recorded_once(context: AppContext, console_client: httpx.AsyncClient) -> None:
    admin = await _signed_in(context, console_client)
    created = await console_client.post(PRODUCTS, json={"name": "Vase", "price": "8.00", "quantity": 1}, headers=admin)
    product_id = created.json()["id"]

    deleted = await row_action(console_client, "products", "delete", product_id)

    assert deleted.status_code == 200, deleted.text
    assert (await console_client.get(f"{PRODUCTS}/{product_id}")).status_code == 404
    [entry] = await audit_entries(context, deleted)
    assert (entry.action, entry.target_id, entry.after) == ("product.delete", str(product_id), None)
    assert entry.before == {"name": "Vase", "price": "8.00", "quantity": 1}
