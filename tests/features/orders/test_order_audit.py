"""An admin's order transitions are audited; a customer cancelling their own order is not an admin action; a refused
transition leaves no entry (SQLite and PostgreSQL)."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests import helpers
from tests.features.orders.helpers import line, placed
from tests.features.products.helpers import create_product
from tests.support.audit import assert_no_entry, entries, entry_of

ORDERS = "/api/v1/orders"
ADMIN_ORDERS = "/api/v1/admin/orders"


async def test_an_admin_s_status_changes_are_recorded(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers, db_session: AsyncSession
) -> None:
    product = await create_product(client, admin)
    order = await placed(client, user, line(product["id"], 1))
    paid = await client.patch(f"{ADMIN_ORDERS}/{order['id']}", json={"status": "paid"}, headers=admin)
    entry = await entry_of(
        db_session, paid, action="order.change_status", target_type="order", target_id=str(order["id"])
    )
    assert (entry.before, entry.after) == ({"status": "placed"}, {"status": "paid"})

    refused = await client.patch(f"{ADMIN_ORDERS}/{order['id']}", json={"status": "delivered"}, headers=admin)
    await assert_no_entry(db_session, refused)  # paid -> delivered skips shipping: 409

    cancelled = await client.post(f"{ORDERS}/{order['id']}/cancel", headers=admin)
    entry = await entry_of(db_session, cancelled, action="order.cancel")
    assert (entry.before, entry.after) == ({"status": "paid"}, {"status": "cancelled"})


async def test_a_customer_cancelling_their_own_order_is_not_audited(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers, db_session: AsyncSession
) -> None:
    product = await create_product(client, admin)
    order = await placed(client, user, line(product["id"], 1))
    cancelled = await client.post(f"{ORDERS}/{order['id']}/cancel", headers=user)
    assert cancelled.status_code == 200
    assert await entries(db_session, request_id=cancelled.headers["x-request-id"]) == []
