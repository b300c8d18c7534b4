from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, TimestampMixin
from app.core.encryption import EncryptedText

__all__ = ["Order", "OrderID", "OrderItem", "OrderStatus"]

type OrderID = int


class OrderStatus(StrEnum):
    PLACED = "placed"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class Order(TimestampMixin, Base):
    __tablename__ = "customer_order"  # "order" is an SQL keyword
    # The service enforces the transitions; the database refuses a status outside the state machine's.
    __table_args__ = (
        CheckConstraint("status IN ('placed', 'paid', 'shipped', 'delivered', 'cancelled')", name="status_known"),
        # The listings' keyset orders, newest first: a customer's orders, and the admins' by status.
        Index("ix_customer_order_user_id_id", "user_id", "id"),
        Index("ix_customer_order_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    status: Mapped[OrderStatus] = mapped_column(
        Enum(OrderStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=OrderStatus.PLACED,
    )
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    shipping_address: Mapped[str | None] = mapped_column(EncryptedText())  # encrypted at rest
    items: Mapped[list["OrderItem"]] = relationship(
        back_populates="order", cascade="all, delete-orphan", lazy="selectin", order_by="OrderItem.id"
    )


class OrderItem(Base):
    __tablename__ = "order_item"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="RESTRICT"), index=True)
    # Name and price as they were when the order was placed: later catalogue edits do not rewrite history.
    product_name: Mapped[str] = mapped_column(String(200))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    quantity: Mapped[int]

    order: Mapped[Order] = relationship(back_populates="items")
