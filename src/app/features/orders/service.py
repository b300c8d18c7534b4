"""Orders: placing one reserves stock and records prices in the same transaction; reading is owner-only."""

from collections import Counter
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.exceptions import FieldError, InvalidInputError, found
from app.core.pagination import Page, PageParams
from app.core.tracing import Tracing, current_span
from app.features.orders import repository
from app.features.orders.models import Order, OrderID, OrderItem, OrderStatus
from app.features.orders.schemas import OrderCreate, OrderRead
from app.features.products import service as products_service
from app.features.products.schemas import Reservation

__all__ = ["get_order", "list_orders", "place_order"]


def _merged_quantities(data: OrderCreate) -> list[tuple[int, int]]:
    """Quantities per product, in product id order: every transaction locks rows in the same order (no deadlock)."""
    merged: Counter[int] = Counter()
    for item in data.items:
        merged[item.product_id] += item.quantity
    return sorted(merged.items())


def _position_of(data: OrderCreate, product_id: int) -> int:
    return next(i for i, item in enumerate(data.items) if item.product_id == product_id)


async def place_order(session: AsyncSession, *, user_id: int, data: OrderCreate, tracing: Tracing) -> Order:
    """Reserve stock for every item and record the order, or change nothing.

    Raises products' `InsufficientStockError` (409) when a product has fewer units than asked for and
    `InvalidInputError` (422) for an unknown product. Either error propagates, and the request's transaction rolls
    back every reservation already made. Its spans are opened with `tracing` (the app's).
    """
    quantities = _merged_quantities(data)
    with tracing.span("orders.place", {"order.item_count": len(data.items)}) as placement:
        order = Order(
            user_id=user_id, status=OrderStatus.PLACED, total=Decimal(0), shipping_address=data.shipping_address
        )
        with tracing.span("orders.reserve_stock", {"order.product_count": len(quantities)}):
            for product_id, quantity in quantities:
                reserved = await _reserve(session, data, product_id=product_id, quantity=quantity)
                order.items.append(
                    OrderItem(
                        product_id=reserved.product_id,
                        product_name=reserved.name,
                        unit_price=reserved.price,
                        quantity=quantity,
                    )
                )
                order.total += reserved.price * quantity
        order = await repository.add(session, order)
        if placement is not None:
            placement.set_attributes({"order.id": order.id, "order.status": order.status.value})
        return order


async def _reserve(session: AsyncSession, data: OrderCreate, *, product_id: int, quantity: int) -> Reservation:
    # Short stock (409) passes through as products raised it; an unknown product is the order's invalid input.
    try:
        return await products_service.reserve_stock(session, product_id=product_id, quantity=quantity)
    except products_service.UnknownProductError:
        pointer = f"#/items/{_position_of(data, product_id)}/product_id"
        error = FieldError(pointer=pointer, message=f"product {product_id} does not exist", code="unknown")
        raise InvalidInputError("The order names a product that does not exist.", errors=[error]) from None


async def get_order(session: AsyncSession, *, user_id: int, is_admin: bool, order_id: OrderID) -> Order:
    """The order if the user owns it or is an admin; 404 otherwise, so that ids of others' orders leak nothing."""
    stored = await repository.get(session, order_id)
    visible = stored if stored is not None and (stored.user_id == user_id or is_admin) else None
    order = found(visible, f"Order {order_id} does not exist.")
    current_span().set_attributes(
        {"order.id": order.id, "order.status": order.status.value, "order.item_count": len(order.items)}
    )
    return order


async def list_orders(session: AsyncSession, *, user_id: int, params: PageParams) -> Page[OrderRead]:
    """The user's own orders, newest first."""
    orders = await repository.list_for_user(session, user_id=user_id, offset=params.offset, limit=params.size)
    total = await repository.count_for_user(session, user_id=user_id)
    return Page[OrderRead].build([OrderRead.model_validate(o) for o in orders], total=total, params=params)
