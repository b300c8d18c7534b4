"""audit trail

Revision ID: ee7dd37b0dce
Revises: 73a4c74502d1
Create Date: 2026-12-08 10:00:00.000000+00:00

The audit trail of admin actions (docs/security.md#audit-trail): `audit_entry`, append-only. On PostgreSQL a trigger
refuses every UPDATE and DELETE of a row, and TRUNCATE, whoever asks; SQLite has no such guard (the application's
repository has no statement that changes or deletes an entry, and whoever holds the file can edit it anyway).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.database

revision: str = "ee7dd37b0dce"
down_revision: str | None = "73a4c74502d1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSE = """
CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entry is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", app.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=False),
        sa.Column("actor_api_key_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target_type", sa.String(length=50), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("before", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("after", sa.JSON(none_as_null=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entry_action_id", ["action", "id"], unique=False)
        batch_op.create_index("ix_audit_entry_actor_user_id_id", ["actor_user_id", "id"], unique=False)
        batch_op.create_index("ix_audit_entry_occurred_at", ["occurred_at"], unique=False)
        batch_op.create_index(
            "ix_audit_entry_target_type_target_id_id", ["target_type", "target_id", "id"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_REFUSE)
        op.execute(
            "CREATE TRIGGER audit_entry_no_change BEFORE UPDATE OR DELETE ON audit_entry "
            "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_entry_no_truncate ON audit_entry")
        op.execute("DROP TRIGGER audit_entry_no_change ON audit_entry")
        op.execute("DROP FUNCTION audit_entry_append_only()")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_target_type_target_id_id")
        batch_op.drop_index("ix_audit_entry_occurred_at")
        batch_op.drop_index("ix_audit_entry_actor_user_id_id")
        batch_op.drop_index("ix_audit_entry_action_id")

    op.drop_table("audit_entry")
