import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Annotated, NamedTuple, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.core.input import InputModel
from app.core.money import Money, MoneyOut

__all__ = ["ProductCreate", "ProductFilters", "ProductRead", "ProductUpdate", "Reservation"]

MAX_PRICE = Decimal(10_000)
MAX_STOCK = 1_000_000

MAX_NAME_LENGTH = 200
# Highest value a Numeric(10, 2) column holds: a filter bound beyond it would overflow on PostgreSQL.
MAX_PRICE_FILTER = Decimal("99999999.99")


def _normalise_name(name: str) -> str:
    """The name as typed, in Unicode NFC, with runs of white space (tabs, newlines, no-break spaces) made one
    space. Nothing else changes: "McDonald's 2nd edition" and "iPhone 15 pro" are names, not titles."""
    normalised = " ".join(unicodedata.normalize("NFC", name).split())
    # NFC can change the length (composition, and expansions for a few characters): checked on the result.
    if len(normalised) > MAX_NAME_LENGTH:
        msg = f"the name is longer than {MAX_NAME_LENGTH} characters once normalised"
        raise ValueError(msg)
    return normalised


ProductName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_LENGTH),
    AfterValidator(_normalise_name),
]
Price = Annotated[Money, Field(gt=0, lt=MAX_PRICE)]
Stock = Annotated[int, Field(ge=0, le=MAX_STOCK)]
# The bounds inside, not on `PriceFilter | None`: there they would escape Money's JSON schema (core/money.py).
PriceFilter = Annotated[Money, Field(ge=0, le=MAX_PRICE_FILTER)]


class ProductCreate(InputModel):
    name: ProductName
    price: Price
    quantity: Stock = 1


class ProductUpdate(InputModel):
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


class ProductFilters(InputModel):
    """Query filters for the product list: a name substring and an inclusive price range."""

    # Lax, as query strings are text. Read by a QueryModel (core/query_models.py), which passes it only its own
    # fields: the page's and other parameters of the query string are not unknown fields of the filters.
    model_config = ConfigDict(strict=False)

    q: Annotated[str | None, Field(max_length=100, description="Case-insensitive substring of the name.")] = None
    min_price: PriceFilter | None = None
    max_price: PriceFilter | None = None

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            msg = "min_price must not exceed max_price"
            raise ValueError(msg)
        return self


class Reservation(NamedTuple):
    """What `reserve_stock` took out of stock: the order records the name and price as they were."""

    product_id: int
    name: str
    price: Decimal
