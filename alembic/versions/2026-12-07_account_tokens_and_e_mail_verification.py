"""account tokens and e-mail verification

Revision ID: 8db558e14ab2
Revises: 3c1d7a9e5b20
Create Date: 2026-12-07 07:18:14.133564+00:00

Single-use tokens mailed to users (password resets, e-mail verification), stored as digests; whether an account's
address is verified, and the address it asked to change to. Accounts that exist before this revision are unverified:
nobody proved their addresses (with FORGE_REQUIRE_VERIFIED_EMAIL on, they verify through
POST /auth/verify-email/resend).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.database

revision: str = "8db558e14ab2"
down_revision: str | None = "3c1d7a9e5b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum("password_reset", "email_verification", name="tokenpurpose", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", app.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", app.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_account_token_user_id_user_account"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_token_token_hash")),
    )
    with op.batch_alter_table("account_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_token_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_account_token_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_verified", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("pending_email", sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("pending_email")
        batch_op.drop_column("email_verified")

    with op.batch_alter_table("account_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_token_user_id"))
        batch_op.drop_index(batch_op.f("ix_account_token_expires_at"))

    op.drop_table("account_token")
