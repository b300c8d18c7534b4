"""sessions

Revision ID: b5635ce968d7
Revises: 645fe2135915
Create Date: 2026-12-07 06:38:09.236861+00:00

Revocable sessions: one row per login, holding the digest of its current refresh token, and the digests of its
spent refresh tokens (reuse detection). Refresh tokens issued before this revision were stateless JWTs, and access
tokens named no session: after it, both are refused, and users log in again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.database

revision: str = "b5635ce968d7"
down_revision: str | None = "645fe2135915"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("refresh_token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("rotated_from_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("created_at", app.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", app.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.Column("client_network", sa.String(length=64), nullable=True),
        sa.Column("revoked_at", app.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_user_session_user_id_user_account"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session")),
        sa.UniqueConstraint("refresh_token_hash", name=op.f("uq_user_session_refresh_token_hash")),
    )
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_session_user_id"), ["user_id"], unique=False)

    op.create_table(
        "spent_refresh_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("spent_at", app.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["user_session.id"],
            name=op.f("fk_spent_refresh_token_session_id_user_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spent_refresh_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_spent_refresh_token_token_hash")),
    )
    with op.batch_alter_table("spent_refresh_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spent_refresh_token_session_id"), ["session_id"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("spent_refresh_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spent_refresh_token_session_id"))

    op.drop_table("spent_refresh_token")
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_session_user_id"))

    op.drop_table("user_session")
