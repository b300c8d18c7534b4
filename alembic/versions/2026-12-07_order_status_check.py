"""order status check

Revision ID: 8e3a61d2c7b4
Revises: 5b7e2c9d4f10
Create Date: 2026-12-07 04:40:00.000000+00:00

The order lifecycle's statuses (placed, paid, shipped, delivered, cancelled), enforced by the database too. An
example-features migration: a project made without them leaves it out, as it does 5d0c7e9b3a14.
"""

from collections.abc import Sequence

from alembic import op

# forge: example features -- tools/init_project.py removes this migration from a project without them.
revision: str = "8e3a61d2c7b4"
down_revision: str | None = "5b7e2c9d4f10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = "status IN ('placed', 'paid', 'shipped', 'delivered', 'cancelled')"


def upgrade() -> None:
    with op.batch_alter_table("customer_order", schema=None) as batch_op:
        batch_op.create_check_constraint(op.f("ck_customer_order_status_known"), _STATUSES)


def downgrade() -> None:
    with op.batch_alter_table("customer_order", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_customer_order_status_known"), type_="check")
