"""SQL for orders and their items."""

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.features.orders.models import Order, OrderID, OrderStatus

__all__ = ["add", "count_all", "count_for_user", "daily_totals", "get", "list_all", "list_for_user", "set_status"]


async def add(session: AsyncSession, order: Order) -> Order:
    session.add(order)
    await session.flush()
    return order


async def get(session: AsyncSession, order_id: OrderID) -> Order | None:
    return await session.get(Order, order_id)


async def list_for_user(session: AsyncSession, *, user_id: int, offset: int, limit: int) -> Sequence[Order]:
    statement = select(Order).where(Order.user_id == user_id).order_by(Order.id.desc()).offset(offset).limit(limit)
    return (await session.execute(statement)).scalars().all()


async def count_for_user(session: AsyncSession, *, user_id: int) -> int:
    statement = select(func.count()).select_from(Order).where(Order.user_id == user_id)
    return (await session.execute(statement)).scalar_one()


async def list_all(
    session: AsyncSession, *, statuses: Collection[OrderStatus], offset: int, limit: int
) -> Sequence[Order]:
    """Every user's orders, newest first; only those in `statuses` unless it is empty."""
    statement = select(Order).order_by(Order.id.desc()).offset(offset).limit(limit)
    if statuses:
        statement = statement.where(Order.status.in_(statuses))
    return (await session.execute(statement)).scalars().all()


async def count_all(session: AsyncSession, *, statuses: Collection[OrderStatus]) -> int:
    statement = select(func.count()).select_from(Order)
    if statuses:
        statement = statement.where(Order.status.in_(statuses))
    return (await session.execute(statement)).scalar_one()


async def set_status(session: AsyncSession, order: Order, *, expected: OrderStatus, new: OrderStatus) -> bool:
    """Move the order from `expected` to `new` in one conditional statement; False when it was no longer `expected`
    (a concurrent change won), so that two requests never both make one transition (say, restore stock twice)."""
    statement = (
        update(Order)
        .where(Order.id == order.id, Order.status == expected)
        .values(status=new)
        .execution_options(synchronize_session=False)
    )
    changed = int(getattr(await session.execute(statement), "rowcount", 0)) > 0
    await session.refresh(order, ["status", "updated_at"])
    return changed


async def daily_totals(session: AsyncSession, *, since: datetime) -> Sequence[tuple[str, int, Decimal]]:
    """Per day (UTC) since `since`: the orders placed and their total, cancelled ones left out; the oldest first."""
    day = func.date(Order.created_at)
    statement = (
        select(day, func.count(), func.coalesce(func.sum(Order.total), 0))
        .where(Order.created_at >= since, Order.status != OrderStatus.CANCELLED)
        .group_by(day)
        .order_by(day)
    )
    return [(str(d), int(n), Decimal(total)) for d, n, total in (await session.execute(statement)).all()]
