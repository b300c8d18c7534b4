"""keyset indexes

Revision ID: 5e8b2c71d4a9
Revises: ee7dd37b0dce
Create Date: 2026-12-09 09:00:00.000000+00:00

Indexes for the listings' cursor (keyset) pages (docs/api.md, Pagination): each leads with the listing's equality
filter and ends with its sort key, so that a page after a cursor starts at its position and reads `size + 1` rows at
any depth. The composite indexes on (user_id, ...) and (spec_id, id) replace the single-column ones, which they
serve too (the foreign keys' lookups included). Each new index is made before the one it replaces is dropped.
The example orders' indexes are a migration of their own (order_keyset_indexes), which a project without the
example features does not have.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5e8b2c71d4a9"
down_revision: str | None = "ee7dd37b0dce"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, new index, its columns, the single-column index it replaces or None)
_INDEXES: list[tuple[str, str, list[str], str | None]] = [
    ("job", "ix_job_state_id", ["state", "id"], None),
    ("event", "ix_event_type_id", ["type", "id"], None),
    (
        "user_session",
        "ix_user_session_user_id_last_used_at_id",
        ["user_id", "last_used_at", "id"],
        "ix_user_session_user_id",
    ),
    ("endpoint_document", "ix_endpoint_document_spec_id_id", ["spec_id", "id"], "ix_endpoint_document_spec_id"),
]


def upgrade() -> None:
    for table, name, columns, replaced in _INDEXES:
        op.create_index(name, table, columns, unique=False)
        if replaced is not None:
            op.drop_index(replaced, table_name=table)


def downgrade() -> None:
    for table, name, columns, replaced in reversed(_INDEXES):
        if replaced is not None:
            op.create_index(replaced, table, columns[:1], unique=False)
        op.drop_index(name, table_name=table)
