"""response cache

Revision ID: 5c0a7e3d9b21
Revises: 9c41d7e2a8b3
Create Date: 2026-12-08 09:00:00.000000+00:00

The response cache of public reads (docs/caching.md#the-response-cache): `cache_version`, one row per namespace
of cached data, bumped in the transaction of every write to it; and `endpoint_spec.cacheable`, which lets a
public dynamic endpoint's reads be served from it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c0a7e3d9b21"
down_revision: str | None = "9c41d7e2a8b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cache_version",
        sa.Column("namespace", sa.String(length=100), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("namespace", name=op.f("pk_cache_version")),
    )
    with op.batch_alter_table("endpoint_spec") as batch_op:
        batch_op.add_column(sa.Column("cacheable", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("endpoint_spec") as batch_op:
        batch_op.drop_column("cacheable")
    op.drop_table("cache_version")
