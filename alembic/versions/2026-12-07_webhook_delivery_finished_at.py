"""webhook delivery finished_at index

Revision ID: 3c1d7a9e5b20
Revises: fb5529c6a47c
Create Date: 2026-12-08 09:00:00.000000+00:00

An index on webhook_delivery.finished_at for the purge of finished deliveries (FORGE_WEBHOOK_DELIVERY_RETENTION_DAYS):
it finds the old ones without reading the table; pending deliveries (finished_at NULL) are never among them.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "3c1d7a9e5b20"
down_revision: str | None = "fb5529c6a47c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_webhook_delivery_finished_at"), "webhook_delivery", ["finished_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_delivery_finished_at"), table_name="webhook_delivery")
