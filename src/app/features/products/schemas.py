from datetime import datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from app.core.money import Money, MoneyOut

__all__ = ["ProductCreate", "ProductFilters", "ProductRead", "ProductUpdate"]

MAX_PRICE = Decimal(10_000)
MAX_STOCK = 1_000_000

ProductName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Price = Annotated[Money, Field(gt=0, lt=MAX_PRICE)]
Stock = Annotated[int, Field(ge=0, le=MAX_STOCK)]


def _title(name: str) -> str:
    return name.title()


class ProductCreate(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    name: ProductName
    price: Price
    quantity: Stock = 1

    @field_validator("name")
    @classmethod
    def _title_name(cls, name: str) -> str:
        return _title(name)


class ProductUpdate(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    name: ProductName | None = None
    price: Price | None = None
    quantity: Stock | None = None

    @field_validator("name")
    @classmethod
    def _title_name(cls, name: str | None) -> str | None:
        return None if name is None else _title(name)

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.model_fields_set:
            msg = "give at least one field to change"
            raise ValueError(msg)
        for field in self.model_fields_set:
            if getattr(self, field) is None:
                msg = f"{field} cannot be null"
                raise ValueError(msg)
        return self


class ProductRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    price: MoneyOut
    quantity: int
    created_at: datetime
    updated_at: datetime


class ProductFilters(BaseModel):
    """Query filters for the product list: a name substring and an inclusive price range."""

    # No extra="forbid": FastAPI validates the whole query string against this model, `page` and `size` included.
    model_config = ConfigDict(frozen=True)

    q: Annotated[str | None, Field(max_length=100, description="Case-insensitive substring of the name.")] = None
    min_price: Annotated[Money | None, Field(ge=0)] = None
    max_price: Annotated[Money | None, Field(ge=0)] = None

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            msg = "min_price must not exceed max_price"
            raise ValueError(msg)
        return self
