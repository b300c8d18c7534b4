from datetime import datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.core.money import Money, MoneyOut

__all__ = ["ProductCreate", "ProductFilters", "ProductRead", "ProductUpdate"]

MAX_PRICE = Decimal(10_000)
MAX_STOCK = 1_000_000

MAX_NAME_LENGTH = 200
# Highest value a Numeric(10, 2) column holds: a filter bound beyond it would overflow on PostgreSQL.
MAX_PRICE_FILTER = Decimal("99999999.99")


def _title_case(name: str) -> str:
    # Title-casing can lengthen a name ('ß' -> 'Ss'), so the length is checked on the result, not the input.
    titled = name.title()
    if len(titled) > MAX_NAME_LENGTH:
        msg = f"the name is longer than {MAX_NAME_LENGTH} characters once title-cased"
        raise ValueError(msg)
    return titled


ProductName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_LENGTH),
    AfterValidator(_title_case),
]
Price = Annotated[Money, Field(gt=0, lt=MAX_PRICE)]
Stock = Annotated[int, Field(ge=0, le=MAX_STOCK)]
# The bounds inside, not on `PriceFilter | None`: there they would escape Money's JSON schema (core/money.py).
PriceFilter = Annotated[Money, Field(ge=0, le=MAX_PRICE_FILTER)]


class ProductCreate(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    name: ProductName
    price: Price
    quantity: Stock = 1


class ProductUpdate(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    name: ProductName | None = None
    price: Price | None = None
    quantity: Stock | None = None

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
    min_price: PriceFilter | None = None
    max_price: PriceFilter | None = None

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            msg = "min_price must not exceed max_price"
            raise ValueError(msg)
        return self
