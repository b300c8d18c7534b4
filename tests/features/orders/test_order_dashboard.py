"""The orders' series on the admins' dashboard: orders placed and revenue per UTC day, exact to the cent on SQLite
(whose NUMERIC values are binary floats) and PostgreSQL; cancelled orders count as placed, not as revenue."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.features.orders.models import Order, OrderStatus
from tests import helpers

DASHBOARD = "/api/v1/admin/dashboard"


def _series(body: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    [series] = [series for series in body[kind] if series["name"] == name]
    return {point["day"]: point.get("count", point.get("amount")) for point in series["points"]}


async def test_orders_and_revenue_per_day_match_the_orders(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    admin_id = (await client.get("/api/v1/users/me", headers=admin)).json()["id"]
    today = datetime.now(UTC).date()
    two_days_ago, yesterday = today - timedelta(days=2), today - timedelta(days=1)
    midnight = datetime.combine(yesterday, time(), tzinfo=UTC)
    seeded = [
        (midnight - timedelta(microseconds=1), "0.10", OrderStatus.PLACED),  # the last instant of two days ago
        (midnight - timedelta(hours=3), "0.20", OrderStatus.PAID),
        (midnight - timedelta(hours=5), "1000.00", OrderStatus.CANCELLED),
        (midnight, "19.99", OrderStatus.DELIVERED),  # the first instant of yesterday
        (midnight + timedelta(hours=23), "0.01", OrderStatus.PLACED),
        (midnight - timedelta(days=8), "5.00", OrderStatus.PAID),  # outside a 3-day window, inside 10 days
    ]
    db_session.add_all(
        Order(user_id=admin_id, status=status, total=Decimal(total), created_at=created, updated_at=created)
        for created, total, status in seeded
    )
    await db_session.commit()

    response = await client.get(DASHBOARD, params={"days": 3}, headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["since"] == two_days_ago.isoformat()
    orders, revenue = _series(body, "counts", "orders"), _series(body, "amounts", "revenue")
    assert list(orders) == list(revenue) == [two_days_ago.isoformat(), yesterday.isoformat(), today.isoformat()]
    assert orders[two_days_ago.isoformat()] == 3
    assert revenue[two_days_ago.isoformat()] == "0.30"  # 0.10 + 0.20 exactly; the cancelled 1000.00 left out
    assert (orders[yesterday.isoformat()], revenue[yesterday.isoformat()]) == (2, "20.00")
    assert (orders[today.isoformat()], revenue[today.isoformat()]) == (0, "0.00")

    wider = (await client.get(DASHBOARD, params={"days": 10}, headers=admin)).json()
    assert _series(wider, "amounts", "revenue")[(today - timedelta(days=9)).isoformat()] == "5.00"
