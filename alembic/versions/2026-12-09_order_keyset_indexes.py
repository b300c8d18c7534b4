"""order keyset indexes

Revision ID: 9c41d7e2a8b3
Revises: 5e8b2c71d4a9
Create Date: 2026-12-09 09:01:00.000000+00:00

The example orders' listings by cursor (keyset_indexes has the rest): a user's orders and the admin's by status,
newest first. (user_id, id) replaces the single-column index on user_id, which it serves too.
"""

from collections.abc import Sequence

from alembic import op

# forge: example features -- tools/init_project.py removes this migration from a project without them.
revision: str = "9c41d7e2a8b3"
down_revision: str | None = "5e8b2c71d4a9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer_order", schema=None) as batch_op:
        batch_op.create_index("ix_customer_order_user_id_id", ["user_id", "id"], unique=False)
        batch_op.drop_index("ix_customer_order_user_id")
        batch_op.create_index("ix_customer_order_status_id", ["status", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("customer_order", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_order_status_id")
        batch_op.create_index("ix_customer_order_user_id", ["user_id"], unique=False)
        batch_op.drop_index("ix_customer_order_user_id_id")
