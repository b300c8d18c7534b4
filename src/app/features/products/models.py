from decimal import Decimal

from sqlalchemy import CheckConstraint, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, TimestampMixin

__all__ = ["Product", "ProductID"]

type ProductID = int


class Product(TimestampMixin, Base):
    __tablename__ = "product"
    __table_args__ = (
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    # Units in stock; orders decrement it with a conditional UPDATE, so it can never go below zero.
    quantity: Mapped[int] = mapped_column(default=1)
