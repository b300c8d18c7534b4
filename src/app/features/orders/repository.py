"""SQL for orders and their items."""

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.features.orders.models import Order, OrderID

__all__ = ["add", "count_for_user", "get", "list_for_user"]


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
