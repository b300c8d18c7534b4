"""Orders: placing one reserves stock and records prices in the same transaction; reading is owner-only; its status
follows one state machine (placed -> paid -> shipped -> delivered; placed or paid -> cancelled, which restores the
stock). Every change records its event (`order.<status>`) in the same transaction."""

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import Audit
from app.core.dashboard import DailyAmounts, DailyCounts
from app.core.events import Events
from app.core.exceptions import ConflictError, FieldError, InvalidInputError, ProblemField, found
from app.core.pagination import Page, PageParams
from app.core.tracing import Tracing, current_span
from app.features.orders import repository
from app.features.orders.models import Order, OrderID, OrderItem, OrderStatus
from app.features.orders.schemas import OrderCreate, OrderRead
from app.features.products import service as products_service
from app.features.products.schemas import Reservation

__all__ = [
    "TRANSITIONS",
    "InvalidTransitionError",
    "browse_orders",
    "cancel_order",
    "change_status",
    "count_orders",
    "daily_series",
    "find_order",
    "get_order",
    "list_all_orders",
    "list_orders",
    "place_order",
]

# The one state machine: the statuses an order may move to from each status.
TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PLACED: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}


class InvalidTransitionError(ConflictError):
    """The order's status does not allow the change asked for (nothing changes)."""

    slug = "invalid-transition"
    title = "Invalid Transition"
    problem_fields: ClassVar[Mapping[str, ProblemField]] = {
        "current_status": ProblemField(str, "409 invalid-transition: the order's status."),
        "requested_status": ProblemField(str, "409 invalid-transition: the status asked for."),
    }

    def __init__(self, order_id: OrderID, *, current: OrderStatus, requested: OrderStatus) -> None:
        msg = f"Order {order_id} is {current.value} and cannot become {requested.value}."
        super().__init__(msg, current_status=current.value, requested_status=requested.value)


def _merged_quantities(data: OrderCreate) -> list[tuple[int, int]]:
    """Quantities per product, in product id order: every transaction locks rows in the same order (no deadlock)."""
    merged: Counter[int] = Counter()
    for item in data.items:
        merged[item.product_id] += item.quantity
    return sorted(merged.items())


def _position_of(data: OrderCreate, product_id: int) -> int:
    return next(i for i, item in enumerate(data.items) if item.product_id == product_id)


async def place_order(
    session: AsyncSession, *, user_id: int, data: OrderCreate, tracing: Tracing, events: Events
) -> Order:
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
        await events.record(session, "order.placed", _event_data(order))
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
    rows = await repository.list_for_user(session, user_id=user_id, params=params)
    total = await repository.count_for_user(session, user_id=user_id) if params.include_total else None
    return _page(rows, total=total, params=params)


async def list_all_orders(session: AsyncSession, *, status: OrderStatus | None, params: PageParams) -> Page[OrderRead]:
    """Every user's orders (an admin's view), newest first, optionally only those in `status`."""
    statuses = [status] if status is not None else []
    rows = await repository.list_all(session, statuses=statuses, params=params)
    total = await repository.count_all(session, statuses=statuses) if params.include_total else None
    return _page(rows, total=total, params=params)


def _page(rows: Sequence[Order], *, total: int | None, params: PageParams) -> Page[OrderRead]:
    orders, next_cursor = repository.NEWEST_FIRST.split(rows, params)
    items = [OrderRead.model_validate(o) for o in orders]
    return Page[OrderRead].build(items, total=total, params=params, next_cursor=next_cursor)


async def browse_orders(
    session: AsyncSession, *, statuses: Collection[OrderStatus], params: PageParams
) -> Sequence[Order]:
    """A page of every user's orders with their items (the admin console's listing), newest first; only those in
    `statuses` unless it is empty."""
    rows = await repository.list_all(session, statuses=statuses, params=params)
    return repository.NEWEST_FIRST.split(rows, params)[0]


async def count_orders(session: AsyncSession, *, statuses: Collection[OrderStatus]) -> int:
    """How many orders are in `statuses` (all of them when it is empty)."""
    return await repository.count_all(session, statuses=statuses)


async def find_order(session: AsyncSession, *, order_id: OrderID) -> Order | None:
    """Any user's order (an administrator's look), or None."""
    return await repository.get(session, order_id)


async def cancel_order(
    session: AsyncSession, *, user_id: int, is_admin: bool, order_id: OrderID, events: Events, audit: Audit
) -> Order:
    """Cancel the caller's order (an admin: any order), restoring its stock; an order already cancelled is returned
    unchanged. 404 for another user's order, 409 `invalid-transition` once it has shipped. An admin cancelling
    another user's order is an admin action, recorded with `audit`."""
    order = await get_order(session, user_id=user_id, is_admin=is_admin, order_id=order_id)
    before = order.status
    order = await _transition(session, order, OrderStatus.CANCELLED, events)
    if order.user_id != user_id:  # only an admin gets this far with another user's order
        await _audit_status(session, audit, order, before=before, action="order.cancel")
    return order


async def change_status(
    session: AsyncSession, *, order_id: OrderID, status: OrderStatus, events: Events, audit: Audit
) -> Order:
    """An admin's change of an order's status along the state machine; the status it already has changes nothing
    (the request is audited all the same)."""
    order = found(await repository.get(session, order_id), f"Order {order_id} does not exist.")
    before = order.status
    order = await _transition(session, order, status, events)
    await _audit_status(session, audit, order, before=before, action="order.change_status")
    return order


async def _audit_status(session: AsyncSession, audit: Audit, order: Order, *, before: OrderStatus, action: str) -> None:
    await audit.record(
        session,
        action=action,
        target_type="order",
        target_id=order.id,
        before={"status": before},
        after={"status": order.status},
    )


async def _transition(session: AsyncSession, order: Order, new: OrderStatus, events: Events) -> Order:
    while order.status != new:  # the status it already has: nothing to do, no second event
        current = order.status
        if new not in TRANSITIONS[current]:
            raise InvalidTransitionError(order.id, current=current, requested=new)
        if not await repository.set_status(session, order, expected=current, new=new):
            continue  # a concurrent change came first: decide again from the status it left
        if new is OrderStatus.CANCELLED:
            await _restore_stock(session, order)
        await events.record(session, f"order.{new.value}", {**_event_data(order), "previous_status": current.value})
    return order


async def _restore_stock(session: AsyncSession, order: Order) -> None:
    quantities: Counter[int] = Counter()
    for item in order.items:
        quantities[item.product_id] += item.quantity
    for product_id, quantity in sorted(quantities.items()):  # the order placing locks them in: no deadlock
        await products_service.restore_stock(session, product_id=product_id, quantity=quantity)


def _event_data(order: Order) -> dict[str, object]:
    """What a consumer needs to act on the order; never the shipping address (personal data, encrypted at rest)."""
    return {
        "id": order.id,
        "user_id": order.user_id,
        "status": order.status.value,
        "total": str(order.total),
        "items": [
            {"product_id": i.product_id, "quantity": i.quantity, "unit_price": str(i.unit_price)} for i in order.items
        ],
    }


async def daily_series(session: AsyncSession, *, since: datetime) -> list[DailyCounts | DailyAmounts]:
    """The admins' dashboard's series (a core.dashboard `DailySource`): `orders` placed per UTC day, and `revenue`,
    the totals of those of them not cancelled."""
    totals = await repository.daily_totals(session, since=since)
    return [
        DailyCounts("orders", {day: count for day, count, _ in totals}),
        DailyAmounts("revenue", {day: Decimal(cents).scaleb(-2) for day, _, cents in totals}),
    ]
