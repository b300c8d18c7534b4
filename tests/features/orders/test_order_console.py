"""Orders in the admin console, through the orders service: an order moved along the state machine and cancelled
with its stock back, each move recorded once in the audit trail as the signed-in administrator's; a move the state
machine does not allow from the order's status is refused and leaves no entry (SQLite and PostgreSQL)."""

import httpx

from app.core.context import AppContext
from tests import helpers
from tests.features.orders.helpers import line, placed, stock
from tests.support.console import account, audit_entries, row_action, sign_in


async def test_an_order_is_paid_then_cancelled_in_the_console_and_each_move_is_recorded(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    email = await account(context)
    admin = helpers.bearer((await helpers.login(console_client, email))["access_token"])
    admin_id = (await console_client.get("/api/v1/users/me", headers=admin)).json()["id"]
    product = await console_client.post(
        "/api/v1/products", json={"name": "Teapot", "price": "20.00", "quantity": 5}, headers=admin
    )
    product_id = product.json()["id"]
    order = await placed(console_client, await helpers.user_headers(console_client), line(product_id, 2))
    assert (await sign_in(console_client, email)).status_code == 303

    paid = await row_action(console_client, "orders", "pay", order["id"])
    cancelled = await row_action(console_client, "orders", "cancel", order["id"])
    refused = await row_action(console_client, "orders", "ship", order["id"])

    assert paid.status_code == 200, paid.text
    [entry] = await audit_entries(context, paid)
    assert (entry.action, entry.target_type, entry.target_id) == ("order.change_status", "order", str(order["id"]))
    assert (entry.before, entry.after, entry.actor_user_id) == ({"status": "placed"}, {"status": "paid"}, admin_id)
    assert cancelled.status_code == 200, cancelled.text
    [entry] = await audit_entries(context, cancelled)
    assert (entry.before, entry.after) == ({"status": "paid"}, {"status": "cancelled"})
    assert await stock(console_client, product_id) == 5
    assert refused.status_code == 400, refused.text  # not a move from cancelled: the console offers none
    assert await audit_entries(context, refused) == []


async def test_the_list_is_filtered_by_status_through_the_service(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    email = await account(context)
    admin = helpers.bearer((await helpers.login(console_client, email))["access_token"])
    product = await console_client.post(
        "/api/v1/products", json={"name": "Cup", "price": "2.00", "quantity": 9}, headers=admin
    )
    customer = await helpers.user_headers(console_client)
    kept = await placed(console_client, customer, line(product.json()["id"], 1))
    dropped = await placed(console_client, customer, line(product.json()["id"], 1))
    assert (await sign_in(console_client, email)).status_code == 303
    assert (await row_action(console_client, "orders", "cancel", dropped["id"])).status_code == 200

    cancelled = await console_client.get("/admin/orders/list", params={"filter": "status__in=cancelled"})
    either = await console_client.get("/admin/orders/list", params={"filter": "status__in=placed,cancelled"})

    assert cancelled.status_code == 200
    assert f"/admin/orders/detail?pk={dropped['id']}" in cancelled.text
    assert f"/admin/orders/detail?pk={kept['id']}" not in cancelled.text
    assert f"/admin/orders/detail?pk={kept['id']}" in either.text
    assert 'type="search"' not in cancelled.text  # no search box whose words would be ignored
