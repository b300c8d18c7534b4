from typing import Annotated

from fastapi import APIRouter, Depends, status
from starlette.responses import Response

from app.core.context import Context
from app.core.database import DBSession
from app.core.identifiers import ResourceID
from app.core.pagination import Page, Pagination
from app.features.api_keys.models import Scope
from app.features.auth.dependencies import Authorized, Principal
from app.features.orders import service
from app.features.orders.models import Order
from app.features.orders.schemas import OrderCreate, OrderRead
from app.shared.idempotency import IDEMPOTENCY_RESPONSES, Idempotency
from app.shared.routing import ForgeRoute

__all__ = ["router"]

OrdersReader = Annotated[Principal, Depends(Authorized(Scope.ORDERS_READ))]
OrdersWriter = Annotated[Principal, Depends(Authorized(Scope.ORDERS_WRITE))]

router = APIRouter(prefix="/orders", tags=["orders"], route_class=ForgeRoute)

_PLACE_ORDER_ERRORS = {
    **IDEMPOTENCY_RESPONSES,
    409: {
        "description": "Short stock (`insufficient-stock`, with `product_id`, `requested`, `available`; nothing "
        "changes), or a request with the same Idempotency-Key still in progress (`Retry-After`)."
    },
}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrderRead, responses=_PLACE_ORDER_ERRORS)
async def place_order(
    data: OrderCreate, idempotency: Idempotency, session: DBSession, caller: OrdersWriter, context: Context
) -> Response:  # `idempotency` before `session`: its claim commits first (shared/idempotency.py)
    order = await service.place_order(session, user_id=caller.user.id, data=data, tracing=context.tracing)
    return await idempotency.respond(session, OrderRead.model_validate(order), status_code=status.HTTP_201_CREATED)


@router.get("")
async def list_orders(session: DBSession, pagination: Pagination, caller: OrdersReader) -> Page[OrderRead]:
    return await service.list_orders(session, user_id=caller.user.id, params=pagination)


@router.get("/{order_id}", response_model=OrderRead)
async def get_order(order_id: ResourceID, session: DBSession, caller: OrdersReader) -> Order:
    user = caller.user
    return await service.get_order(session, user_id=user.id, is_admin=user.is_admin, order_id=order_id)
