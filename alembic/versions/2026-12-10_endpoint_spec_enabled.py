"""endpoint spec enabled

Revision ID: 4f2a9c6e1d7b
Revises: 5c0a7e3d9b21
Create Date: 2026-12-10 08:00:00.000000+00:00

A spec can be disabled (admin console, or PUT with `enabled: false`): kept, with a collection's documents, its name
and its path, but not served. Specs that exist before this revision are served, as they were.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4f2a9c6e1d7b"
down_revision: str | None = "5c0a7e3d9b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("endpoint_spec", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("endpoint_spec", schema=None) as batch_op:
        batch_op.drop_column("enabled")
