"""SQL for orders and their items."""

from collections.abc import Collection, Sequence
from datetime import date, datetime

from sqlalchemy import BigInteger, ColumnElement, case, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.dashboard import utc_day
from app.core.pagination import Keyset, PageParams
from app.features.orders.models import Order, OrderID, OrderStatus

__all__ = [
    "NEWEST_FIRST",
    "add",
    "count_all",
    "count_for_user",
    "daily_totals",
    "get",
    "list_all",
    "list_for_user",
    "set_status",
]


# Both listings' order: served by the indexes on (user_id, id) and (status, id), and the primary key's.
NEWEST_FIRST = Keyset(Order.id, descending=True)


async def add(session: AsyncSession, order: Order) -> Order:
    session.add(order)
    await session.flush()
    return order


async def get(session: AsyncSession, order_id: OrderID) -> Order | None:
    return await session.get(Order, order_id)


async def list_for_user(session: AsyncSession, *, user_id: int, params: PageParams) -> Sequence[Order]:
    statement = NEWEST_FIRST.page(select(Order).where(Order.user_id == user_id), params)
    return (await session.execute(statement)).scalars().all()


async def count_for_user(session: AsyncSession, *, user_id: int) -> int:
    statement = select(func.count()).select_from(Order).where(Order.user_id == user_id)
    return (await session.execute(statement)).scalar_one()


def _in_statuses(statuses: Collection[OrderStatus]) -> list[ColumnElement[bool]]:
    """No condition for no statuses; one status as an equality, which the (status, id) index serves as one range."""
    if not statuses:
        return []
    if len(statuses) == 1:
        return [Order.status == next(iter(statuses))]
    return [Order.status.in_(statuses)]


async def list_all(session: AsyncSession, *, statuses: Collection[OrderStatus], params: PageParams) -> Sequence[Order]:
    """Every user's orders, newest first; only those in `statuses` unless it is empty."""
    statement = NEWEST_FIRST.page(select(Order).where(*_in_statuses(statuses)), params)
    return (await session.execute(statement)).scalars().all()


async def count_all(session: AsyncSession, *, statuses: Collection[OrderStatus]) -> int:
    statement = select(func.count()).select_from(Order).where(*_in_statuses(statuses))
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


async def daily_totals(session: AsyncSession, *, since: datetime) -> list[tuple[date, int, int]]:
    """Per UTC day from `since`: the orders placed, and the cents of those not cancelled.

    Summed as integer cents: SQLite keeps NUMERIC values as binary floats, whose sum is not exact (0.1 + 0.2);
    rounded to cents each total is exact again, and the sum of integers stays exact on both backends.
    """
    day = utc_day(Order.created_at)
    cents = cast(func.round(Order.total * 100), BigInteger)
    kept = func.sum(case((Order.status != OrderStatus.CANCELLED, cents), else_=0))
    statement = select(day, func.count(), kept).where(Order.created_at >= since).group_by(day)
    return [(found_day, int(count), int(total or 0)) for found_day, count, total in await session.execute(statement)]
