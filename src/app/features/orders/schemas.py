from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.identifiers import MAX_ID
from app.core.input import InputModel
from app.core.money import MoneyOut
from app.features.orders.models import OrderStatus

__all__ = ["OrderCreate", "OrderItemCreate", "OrderItemRead", "OrderRead", "OrderStatusChange"]

MAX_ITEMS_PER_ORDER = 50
MAX_UNITS_PER_ITEM = 1000


class OrderItemCreate(InputModel):
    product_id: Annotated[int, Field(ge=1, le=MAX_ID)]
    quantity: Annotated[int, Field(ge=1, le=MAX_UNITS_PER_ITEM)]


class OrderCreate(InputModel):
    """An order names products and quantities only: prices and the total are the server's to compute."""

    items: Annotated[list[OrderItemCreate], Field(min_length=1, max_length=MAX_ITEMS_PER_ORDER)]
    shipping_address: Annotated[str | None, Field(min_length=1, max_length=500)] = None  # encrypted at rest


class OrderItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    product_id: int
    product_name: str
    quantity: int
    unit_price: MoneyOut


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: OrderStatus
    total: MoneyOut
    shipping_address: str | None
    items: list[OrderItemRead]
    created_at: datetime


class OrderStatusChange(InputModel):
    """An admin's move along the state machine: placed -> paid -> shipped -> delivered; placed or paid -> cancelled."""

    status: Literal["paid", "shipped", "delivered", "cancelled"]
