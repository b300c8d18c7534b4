from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from starlette.responses import Response

from app.core.audit import Audit
from app.core.context import Context
from app.core.database import DBSession
from app.core.identifiers import ResourceID
from app.core.pagination import Page, Pagination
from app.features.api_keys.models import Scope
from app.features.auth.dependencies import AdminAudit, AdminUser, Authorized, Principal
from app.features.orders import service
from app.features.orders.models import Order, OrderStatus
from app.features.orders.schemas import OrderCreate, OrderRead, OrderStatusChange
from app.shared.idempotency import IDEMPOTENCY_RESPONSES, Idempotency
from app.shared.routing import ForgeRoute

__all__ = ["router"]

OrdersReader = Annotated[Principal, Depends(Authorized(Scope.ORDERS_READ))]
OrdersWriter = Annotated[Principal, Depends(Authorized(Scope.ORDERS_WRITE))]
# Placing an order also needs a verified e-mail address when FORGE_REQUIRE_VERIFIED_EMAIL is on.
OrdersPlacer = Annotated[Principal, Depends(Authorized(Scope.ORDERS_WRITE, verified_email=True))]

# The customers' routes under /orders and the admins' under /admin/orders: one router, so the app includes one.
router = APIRouter(tags=["orders"], route_class=ForgeRoute)

_TRANSITION_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "The order's status does not allow the change (`invalid-transition`, with `current_status` "
        "and `requested_status`; nothing changes)."
    }
}

_PLACE_ORDER_ERRORS = {
    **IDEMPOTENCY_RESPONSES,
    409: {
        "description": "Short stock (`insufficient-stock`, with `product_id`, `requested`, `available`; nothing "
        "changes), or a request with the same Idempotency-Key still in progress (`Retry-After`)."
    },
}


@router.post("/orders", status_code=status.HTTP_201_CREATED, response_model=OrderRead, responses=_PLACE_ORDER_ERRORS)
async def place_order(
    data: OrderCreate, idempotency: Idempotency, session: DBSession, caller: OrdersPlacer, context: Context
) -> Response:  # `idempotency` before `session`: its claim commits first (shared/idempotency.py)
    order = await service.place_order(
        session, user_id=caller.user.id, data=data, tracing=context.tracing, events=context.events
    )
    return await idempotency.respond(session, OrderRead.model_validate(order), status_code=status.HTTP_201_CREATED)


@router.get("/orders")
async def list_orders(session: DBSession, caller: OrdersReader, pagination: Pagination) -> Page[OrderRead]:
    return await service.list_orders(session, user_id=caller.user.id, params=pagination)


@router.get("/orders/{order_id}", response_model=OrderRead)
async def get_order(order_id: ResourceID, session: DBSession, caller: OrdersReader) -> Order:
    user = caller.user
    return await service.get_order(session, user_id=user.id, is_admin=user.is_admin, order_id=order_id)


@router.post("/orders/{order_id}/cancel", response_model=OrderRead, responses=_TRANSITION_ERRORS)
async def cancel_order(order_id: ResourceID, session: DBSession, caller: OrdersWriter, context: Context) -> Order:
    """Cancel a placed or paid order and put its items back in stock; an order already cancelled is returned as it
    is. The owner's, or any order for an admin."""
    user, audit = caller.user, Audit(context.audit, caller.actor)
    return await service.cancel_order(
        session, user_id=user.id, is_admin=user.is_admin, order_id=order_id, events=context.events, audit=audit
    )


@router.get("/admin/orders")
async def list_all_orders(
    session: DBSession,
    _admin: AdminUser,
    pagination: Pagination,
    status: Annotated[OrderStatus | None, Query(description="Only the orders in this status.")] = None,
) -> Page[OrderRead]:
    """Every user's orders, newest first."""
    return await service.list_all_orders(session, status=status, params=pagination)


@router.patch("/admin/orders/{order_id}", response_model=OrderRead, responses=_TRANSITION_ERRORS)
async def change_order_status(
    order_id: ResourceID, change: OrderStatusChange, session: DBSession, audit: AdminAudit, context: Context
) -> Order:
    """Move the order along placed -> paid -> shipped -> delivered, or cancel it from placed or paid (its stock
    restored). The status it already has changes nothing."""
    return await service.change_status(
        session, order_id=order_id, status=OrderStatus(change.status), events=context.events, audit=audit
    )
