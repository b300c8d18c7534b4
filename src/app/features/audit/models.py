"""The `audit_entry` table: one row per admin action, appended and never changed (docs/security.md#audit-trail).

No foreign keys: the trail outlives what it names (a deleted product, a user), and a cascade would be an update.
On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE (the migration's); the repository has neither.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.audit import MAX_ACTION_LENGTH, MAX_TARGET_ID_LENGTH, MAX_TARGET_TYPE_LENGTH
from app.core.database import Base, utcnow

__all__ = ["AuditEntry"]

# none_as_null: a creation has no `before`, a deletion no `after`: SQL NULL, not JSON null.
_JSON = JSON(none_as_null=True)


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    # The listing's filters, each newest first (by id).
    __table_args__ = (
        Index("ix_audit_entry_actor_user_id_id", "actor_user_id", "id"),
        Index("ix_audit_entry_target_type_target_id_id", "target_type", "target_id", "id"),
        Index("ix_audit_entry_action_id", "action", "id"),
        Index("ix_audit_entry_occurred_at", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[int]
    actor_api_key_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(String(MAX_ACTION_LENGTH))
    target_type: Mapped[str] = mapped_column(String(MAX_TARGET_TYPE_LENGTH))
    target_id: Mapped[str] = mapped_column(String(MAX_TARGET_ID_LENGTH))
    request_id: Mapped[str | None] = mapped_column(String(128))
    before: Mapped[dict[str, Any] | None] = mapped_column(_JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(_JSON)
