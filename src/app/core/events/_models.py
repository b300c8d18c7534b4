"""The `event` table: one row per domain event, written with the change it describes."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, utcnow

__all__ = ["Event"]


class Event(Base):
    __tablename__ = "event"
    # (type, id): the admins' listing of one type's events, newest first, by keyset.
    __table_args__ = (
        Index("ix_event_type_occurred_at", "type", "occurred_at"),
        Index("ix_event_type_id", "type", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(100))  # `<resource>.<what happened>`, e.g. `order.placed`
    data: Mapped[Any] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
