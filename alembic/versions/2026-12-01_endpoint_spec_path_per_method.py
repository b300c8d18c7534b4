"""endpoint spec: one path per method, not one per spec

Revision ID: 3c1f0e7a9b21
Revises: aa2de03418ba
Create Date: 2026-12-01 09:00:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "3c1f0e7a9b21"
down_revision: str | None = "aa2de03418ba"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("endpoint_spec", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_endpoint_spec_path"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_endpoint_spec_path_method"), ["path", "method"])


def downgrade() -> None:
    # Fails while two static specs share a path: delete one of them first.
    with op.batch_alter_table("endpoint_spec", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_endpoint_spec_path_method"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_endpoint_spec_path"), ["path"])
