"""The orders' pages in the admin console: every user's orders, filtered by status, each with its items; the moves
of the orders' one state machine (paid, shipped, delivered, cancelled, which restores the stock) through this
feature's service, with its events and audit entries. Orders and revenue per day are on the dashboard, from this
feature's `daily_series` (app.core.dashboard)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette_admin import DateTimeField, EnumField, IntegerField, StringField, TextAreaField, row_action
from starlette_admin.filters import FilterGroup

from app.core.audit import Audit
from app.core.context import context_of
from app.core.money import format_money
from app.features.orders import service
from app.features.orders.models import Order, OrderStatus
from app.shared.console import (
    UNSEARCHED,
    ConsoleSection,
    OneOf,
    ServiceView,
    chosen,
    integer_pk,
    page_of,
    read_session,
    rules_of,
)

__all__ = ["section"]


@dataclass(frozen=True, slots=True)
class OrderRow:
    """An order as the console shows it: its items in words, its shipping address decrypted (detail page only)."""

    id: int
    user_id: int
    status: str
    total: str
    items: str
    item_count: int
    shipping_address: str | None
    created_at: datetime

    @classmethod
    def of(cls, order: Order) -> "OrderRow":
        lines = [
            f"{item.quantity} x {item.product_name} (product {item.product_id}) at {format_money(item.unit_price)}"
            for item in order.items
        ]
        return cls(
            id=order.id,
            user_id=order.user_id,
            status=order.status.value,
            total=format_money(order.total),
            items="\n".join(lines),
            item_count=sum(item.quantity for item in order.items),
            shipping_address=order.shipping_address,
            created_at=order.created_at,
        )


def _statuses(filters: FilterGroup | None) -> list[OrderStatus]:
    """The statuses the list's filter asks for, or none (every order)."""
    if "status" not in rules_of(filters):  # refuses what the service cannot express
        return []
    return [OrderStatus(value) for value in chosen(filters, "status") if value in OrderStatus]


class OrdersView(ServiceView):
    key = "orders"
    menu_label = "Orders"
    display_name = "Order"
    icon = "fa fa-receipt"
    pk_attr = "id"
    fields = (
        IntegerField("id", label="ID"),
        IntegerField("user_id", label="User"),
        EnumField("status", enum=OrderStatus, filters=[OneOf]),
        StringField("total"),
        IntegerField("item_count", label="Units"),
        TextAreaField("items", exclude_from_list=True),
        # Personal data, encrypted at rest: on the order's own page, never in the list.
        StringField("shipping_address", exclude_from_list=True),
        DateTimeField("created_at", label="Placed"),
    )
    searchable_fields = ("status",)  # what the filter builder offers (the search box is left out)
    sortable_fields = ()
    list_template = UNSEARCHED

    def can_create(self, request: Request) -> bool:
        return False

    def can_edit(self, request: Request) -> bool:
        return False

    def can_delete(self, request: Request) -> bool:
        return False

    async def repr(self, obj: Any, request: Request) -> str:
        return f"Order {obj.id}"

    async def find_all(
        self,
        request: Request,
        skip: int = 0,
        limit: int = 100,
        q: str | None = None,
        sorts: Sequence[tuple[str, str]] | None = None,
        filters: FilterGroup | None = None,
    ) -> Sequence[OrderRow]:
        async with read_session(request) as session:
            orders = await service.browse_orders(session, statuses=_statuses(filters), params=page_of(skip, limit))
        return [OrderRow.of(order) for order in orders]

    async def count(self, request: Request, q: str | None = None, filters: FilterGroup | None = None) -> int:
        async with read_session(request) as session:
            return await service.count_orders(session, statuses=_statuses(filters))

    async def find_by_pk(self, request: Request, pk: Any) -> OrderRow | None:
        order_id = integer_pk(pk)
        if order_id is None:
            return None
        async with read_session(request) as session:
            order = await service.find_order(session, order_id=order_id)
        return OrderRow.of(order) if order is not None else None

    async def is_row_action_allowed_for_obj(self, request: Request, name: str, obj: Any) -> bool:
        """Only the moves the state machine allows from the order's status."""
        if name in _MOVES:
            return _MOVES[name] in service.TRANSITIONS[OrderStatus(obj.status)]
        return await super().is_row_action_allowed_for_obj(request, name, obj)

    async def _move(self, request: Request, pk: Any, status: OrderStatus) -> str:
        events = context_of(request).events
        order_id = integer_pk(pk) or 0

        async def change(session: AsyncSession, audit: Audit) -> None:
            await service.change_status(session, order_id=order_id, status=status, events=events, audit=audit)

        await self.act(request, status.value, str(pk), change)
        return f"Order {pk} is {status.value}."

    @row_action(name="pay", text="Mark paid", confirmation="Mark this order as paid?", icon_class="fa fa-credit-card")
    async def pay(self, request: Request, pk: Any) -> str:
        return await self._move(request, pk, OrderStatus.PAID)

    @row_action(name="ship", text="Mark shipped", confirmation="Mark this order as shipped?", icon_class="fa fa-truck")
    async def ship(self, request: Request, pk: Any) -> str:
        return await self._move(request, pk, OrderStatus.SHIPPED)

    @row_action(name="deliver", text="Mark delivered", confirmation="Mark it delivered?", icon_class="fa fa-check")
    async def deliver(self, request: Request, pk: Any) -> str:
        return await self._move(request, pk, OrderStatus.DELIVERED)

    @row_action(
        name="cancel",
        text="Cancel order",
        confirmation="Cancel this order? Its items go back into stock.",
        icon_class="fa fa-ban",
        submit_btn_text="Yes, cancel it",
    )
    async def cancel(self, request: Request, pk: Any) -> str:
        return await self._move(request, pk, OrderStatus.CANCELLED)


_MOVES = {
    "pay": OrderStatus.PAID,
    "ship": OrderStatus.SHIPPED,
    "deliver": OrderStatus.DELIVERED,
    "cancel": OrderStatus.CANCELLED,
}


section = ConsoleSection(views=(OrdersView,))
