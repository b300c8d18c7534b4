"""oidc identities

Revision ID: 73a4c74502d1
Revises: 8db558e14ab2
Create Date: 2026-12-07 07:21:04.638761+00:00

Sign-in with OpenID Connect providers and GitHub (docs/oidc.md): the identities linked to users, the sign-ins on
their way through a provider (single-use state), and the one-time codes that finished sign-ins hand the frontend.
Users may have no password (they sign in through a provider); whether their address is verified is the account
tokens migration's `email_verified`.
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pwdlib import PasswordHash

import app.core.database

revision: str = "73a4c74502d1"
down_revision: str | None = "8db558e14ab2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oidc_flow",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("redirect_to", sa.String(length=512), nullable=False),
        sa.Column("link_user_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", app.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_user_id"],
            ["user_account.id"],
            name=op.f("fk_oidc_flow_link_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_flow")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oidc_flow_state_hash")),
    )
    with op.batch_alter_table("oidc_flow", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oidc_flow_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "oidc_login_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("expires_at", app.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_oidc_login_code_user_id_user_account"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_login_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oidc_login_code_code_hash")),
    )
    with op.batch_alter_table("oidc_login_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oidc_login_code_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_oidc_login_code_user_id"), ["user_id"], unique=False)

    op.create_table(
        "user_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("created_at", app.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", app.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_user_identity_user_id_user_account"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_identity")),
        sa.UniqueConstraint("provider", "subject", name=op.f("uq_user_identity_provider_subject")),
    )
    with op.batch_alter_table("user_identity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_identity_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.alter_column("hashed_password", existing_type=sa.VARCHAR(length=255), nullable=True)


def downgrade() -> None:
    # Accounts without a password get an unusable one: the hash of a random secret that nobody keeps.
    unusable = PasswordHash.recommended().hash(secrets.token_urlsafe(32))
    op.execute(
        sa.text("UPDATE user_account SET hashed_password = :hash WHERE hashed_password IS NULL").bindparams(
            hash=unusable
        )
    )
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.alter_column("hashed_password", existing_type=sa.VARCHAR(length=255), nullable=False)

    with op.batch_alter_table("user_identity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_identity_user_id"))

    op.drop_table("user_identity")
    with op.batch_alter_table("oidc_login_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_login_code_user_id"))
        batch_op.drop_index(batch_op.f("ix_oidc_login_code_expires_at"))

    op.drop_table("oidc_login_code")
    with op.batch_alter_table("oidc_flow", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_flow_expires_at"))

    op.drop_table("oidc_flow")
