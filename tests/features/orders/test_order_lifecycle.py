"""The order lifecycle: cancelling (stock restored), admins' status changes along one state machine, and the event
each change records in its transaction (SQLite and PostgreSQL)."""

from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.events import Event
from tests import helpers
from tests.features.orders.helpers import line, placed, stock
from tests.features.products.helpers import create_product
from tests.helpers import problem

ORDERS = "/api/v1/orders"
ADMIN_ORDERS = "/api/v1/admin/orders"

type JSON = dict[str, Any]


async def cancel(client: httpx.AsyncClient, headers: helpers.Headers, order_id: int) -> httpx.Response:
    return await client.post(f"{ORDERS}/{order_id}/cancel", headers=headers)


async def set_status(client: httpx.AsyncClient, admin: helpers.Headers, order_id: int, status: str) -> httpx.Response:
    return await client.patch(f"{ADMIN_ORDERS}/{order_id}", json={"status": status}, headers=admin)


async def order_events(session: AsyncSession, order_id: int) -> list[tuple[str, JSON]]:
    events = (await session.scalars(select(Event).where(Event.type.like("order.%")).order_by(Event.id))).all()
    return [(e.type, e.data) for e in events if e.data["id"] == order_id]


# --- Cancelling ---------------------------------------------------------------------------------------------------


async def test_the_owner_cancels_a_placed_order_and_its_stock_returns(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers, db_session: AsyncSession
) -> None:
    pen = await create_product(client, admin, name="pen", price="1.50", quantity=10)
    ink = await create_product(client, admin, name="ink", price="4.00", quantity=5)
    order = await placed(client, user, line(pen["id"], 3), line(ink["id"], 2), line(pen["id"], 1))
    assert (await stock(client, pen["id"]), await stock(client, ink["id"])) == (6, 3)

    response = await cancel(client, user, order["id"])

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert (await stock(client, pen["id"]), await stock(client, ink["id"])) == (10, 5)
    events = await order_events(db_session, order["id"])
    assert [t for t, _ in events] == ["order.placed", "order.cancelled"]
    data = events[1][1]
    assert (data["status"], data["previous_status"], data["total"]) == ("cancelled", "placed", "14.00")
    assert sorted((i["product_id"], i["quantity"]) for i in data["items"]) == sorted([(pen["id"], 4), (ink["id"], 2)])
    assert "shipping_address" not in data


async def test_cancelling_again_returns_the_order_and_changes_nothing(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers, db_session: AsyncSession
) -> None:
    pen = await create_product(client, admin, name="pen", quantity=10)
    order = await placed(client, user, line(pen["id"], 4))
    first = await cancel(client, user, order["id"])

    again = await cancel(client, user, order["id"])

    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert await stock(client, pen["id"]) == 10  # restored once, not twice
    assert [t for t, _ in await order_events(db_session, order["id"])] == ["order.placed", "order.cancelled"]


async def test_a_paid_order_can_be_cancelled_by_its_owner(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    pen = await create_product(client, admin, name="pen", quantity=10)
    order = await placed(client, user, line(pen["id"], 2))
    assert (await set_status(client, admin, order["id"], "paid")).status_code == 200

    response = await cancel(client, user, order["id"])

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert await stock(client, pen["id"]) == 10


@pytest.mark.parametrize("reached", [["paid", "shipped"], ["paid", "shipped", "delivered"]])
async def test_a_shipped_or_delivered_order_cannot_be_cancelled(
    client: httpx.AsyncClient,
    admin: helpers.Headers,
    user: helpers.Headers,
    db_session: AsyncSession,
    reached: list[str],
) -> None:
    pen = await create_product(client, admin, name="pen", quantity=10)
    order = await placed(client, user, line(pen["id"], 2))
    for status in reached:
        assert (await set_status(client, admin, order["id"], status)).status_code == 200

    body = problem(await cancel(client, user, order["id"]), 409, "invalid-transition")

    assert (body["current_status"], body["requested_status"]) == (reached[-1], "cancelled")
    assert await stock(client, pen["id"]) == 8
    assert [t for t, _ in await order_events(db_session, order["id"])] == [
        "order.placed",
        *(f"order.{s}" for s in reached),
    ]


async def test_another_users_order_is_not_found_and_stays_placed(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    pen = await create_product(client, admin, name="pen", quantity=10)
    order = await placed(client, user, line(pen["id"], 2))
    stranger = await helpers.user_headers(client)

    problem(await cancel(client, stranger, order["id"]), 404, "not-found")
    problem(await cancel(client, stranger, 987654), 404, "not-found")  # the same answer as for no order at all

    mine = await client.get(f"{ORDERS}/{order['id']}", headers=user)
    assert mine.json()["status"] == "placed"
    assert await stock(client, pen["id"]) == 8


async def test_an_admin_cancels_anyones_order(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    pen = await create_product(client, admin, name="pen", quantity=10)
    order = await placed(client, user, line(pen["id"], 2))

    response = await cancel(client, admin, order["id"])

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert await stock(client, pen["id"]) == 10


# --- Admins: the state machine ----------------------------------------------------------------------------------


async def test_an_order_goes_from_placed_to_delivered_with_an_event_per_step(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers, db_session: AsyncSession
) -> None:
    pen = await create_product(client, admin, name="pen", price="2.00", quantity=10)
    order = await placed(client, user, line(pen["id"], 2))

    for status in ["paid", "shipped", "delivered"]:
        response = await set_status(client, admin, order["id"], status)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status

    events = await order_events(db_session, order["id"])
    assert [t for t, _ in events] == ["order.placed", "order.paid", "order.shipped", "order.delivered"]
    assert [d.get("previous_status") for _, d in events] == [None, "placed", "paid", "shipped"]
    assert all(d["user_id"] == events[0][1]["user_id"] and d["total"] == "4.00" for _, d in events)
    assert await stock(client, pen["id"]) == 8  # only cancelling gives stock back


@pytest.mark.parametrize(
    ("path", "requested", "current"),
    [
        ([], "shipped", "placed"),
        ([], "delivered", "placed"),
        (["paid"], "delivered", "paid"),
        (["paid", "shipped"], "paid", "shipped"),
        (["paid", "shipped", "delivered"], "shipped", "delivered"),
        (["cancelled"], "paid", "cancelled"),
    ],
)
async def test_a_step_off_the_state_machine_is_refused_and_changes_nothing(  # noqa: PLR0917 - fixtures and cases
    client: httpx.AsyncClient,
    admin: helpers.Headers,
    user: helpers.Headers,
    path: list[str],
    requested: str,
    current: str,
) -> None:
    pen = await create_product(client, admin, name="pen", quantity=10)
    order = await placed(client, user, line(pen["id"], 1))
    for status in path:
        assert (await set_status(client, admin, order["id"], status)).status_code == 200

    body = problem(await set_status(client, admin, order["id"], requested), 409, "invalid-transition")

    assert (body["current_status"], body["requested_status"]) == (current, requested)
    assert (await client.get(f"{ORDERS}/{order['id']}", headers=user)).json()["status"] == current


async def test_setting_the_status_an_order_has_changes_nothing(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers, db_session: AsyncSession
) -> None:
    pen = await create_product(client, admin, name="pen", quantity=10)
    order = await placed(client, user, line(pen["id"], 1))
    assert (await set_status(client, admin, order["id"], "paid")).status_code == 200

    again = await set_status(client, admin, order["id"], "paid")

    assert again.status_code == 200, again.text
    assert [t for t, _ in await order_events(db_session, order["id"])] == ["order.placed", "order.paid"]


async def test_admin_cancelling_through_patch_restores_the_stock(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    pen = await create_product(client, admin, name="pen", quantity=10)
    order = await placed(client, user, line(pen["id"], 3))

    response = await set_status(client, admin, order["id"], "cancelled")

    assert response.status_code == 200, response.text
    assert await stock(client, pen["id"]) == 10


async def test_the_status_change_is_for_admins_and_validated(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    pen = await create_product(client, admin, name="pen", quantity=10)
    order = await placed(client, user, line(pen["id"], 1))

    problem(await set_status(client, user, order["id"], "paid"), 403, "forbidden")
    problem(await set_status(client, admin, order["id"], "placed"), 422, "validation-error")
    problem(await set_status(client, admin, 987654, "paid"), 404, "not-found")
    problem(await client.get(ADMIN_ORDERS, headers=user), 403, "forbidden")


async def test_admins_list_every_users_orders_by_status(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    pen = await create_product(client, admin, name="pen", quantity=20)
    other = await helpers.user_headers(client)
    mine = await placed(client, user, line(pen["id"], 1))
    theirs = await placed(client, other, line(pen["id"], 1))
    paid = await placed(client, other, line(pen["id"], 1))
    assert (await set_status(client, admin, paid["id"], "paid")).status_code == 200

    everything = await client.get(ADMIN_ORDERS, headers=admin, params={"size": 100})
    only_placed = await client.get(ADMIN_ORDERS, headers=admin, params={"status": "placed", "size": 100})
    only_paid = await client.get(ADMIN_ORDERS, headers=admin, params={"status": "paid", "size": 100})
    first_page = await client.get(ADMIN_ORDERS, headers=admin, params={"size": 2})

    assert everything.status_code == 200, everything.text
    ids = [o["id"] for o in everything.json()["items"]]
    assert {mine["id"], theirs["id"], paid["id"]} <= set(ids)
    assert ids == sorted(ids, reverse=True)  # newest first
    placed_ids = {o["id"] for o in only_placed.json()["items"]}
    assert {mine["id"], theirs["id"]} <= placed_ids
    assert paid["id"] not in placed_ids
    assert all(o["status"] == "paid" for o in only_paid.json()["items"])
    assert paid["id"] in {o["id"] for o in only_paid.json()["items"]}
    page = first_page.json()
    assert (len(page["items"]), page["total"]) == (2, everything.json()["total"])
    problem(await client.get(ADMIN_ORDERS, headers=admin, params={"status": "lost"}), 422, "validation-error")


async def test_an_order_refused_for_short_stock_records_no_event(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers, db_session: AsyncSession
) -> None:
    pen = await create_product(client, admin, name="pen", quantity=1)
    ink = await create_product(client, admin, name="ink", quantity=5)
    before = (await db_session.scalars(select(Event).where(Event.type == "order.placed"))).all()

    refused = await client.post(ORDERS, json={"items": [line(ink["id"], 1), line(pen["id"], 2)]}, headers=user)

    problem(refused, 409, "insufficient-stock")
    after = (await db_session.scalars(select(Event).where(Event.type == "order.placed"))).all()
    assert len(after) == len(before)
    assert await stock(client, ink["id"]) == 5


async def test_the_database_refuses_a_status_outside_the_state_machine(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers, db_session: AsyncSession
) -> None:
    pen = await create_product(client, admin, name="pen", quantity=1)
    order = await placed(client, user, line(pen["id"], 1))
    change = text("UPDATE customer_order SET status = :status WHERE id = :id")

    with pytest.raises(IntegrityError):
        async with db_session.begin_nested():
            await db_session.execute(change, {"status": "lost", "id": order["id"]})
    async with db_session.begin_nested():
        await db_session.execute(change, {"status": "shipped", "id": order["id"]})  # a known status passes
