"""Endpoint specs, the documents of `collection` specs, and the registry's version (one row, bumped on change)."""

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, TimestampMixin

__all__ = ["EndpointDocument", "EndpointRegistry", "EndpointSpec", "SpecID"]

type SpecID = int

# Plain JSON, not JSONB, on PostgreSQL too: JSONB reorders object keys, and a static spec's `example` should be
# served as its author wrote it. Nothing queries inside these values. none_as_null: an absent schema is SQL NULL.
_JSON = JSON(none_as_null=True)


class EndpointSpec(TimestampMixin, Base):
    __tablename__ = "endpoint_spec"
    # Static specs of different methods may share a path (service._check_conflicts decides what overlaps).
    __table_args__ = (UniqueConstraint("path", "method"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    method: Mapped[str | None] = mapped_column(String(10))
    auth: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(String(200), default="")
    request_schema: Mapped[Any | None] = mapped_column(_JSON)
    response_schema: Mapped[Any | None] = mapped_column(_JSON)
    example: Mapped[Any | None] = mapped_column(_JSON)
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())  # false: stored, not served
    version: Mapped[int] = mapped_column(default=1)
    # Reads served from the response cache (public specs only; service._validate checks it).
    cacheable: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


class EndpointDocument(TimestampMixin, Base):
    __tablename__ = "endpoint_document"
    # A collection's documents in the listing's keyset order; also the spec_id lookups' index.
    __table_args__ = (Index("ix_endpoint_document_spec_id_id", "spec_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    spec_id: Mapped[int] = mapped_column(ForeignKey("endpoint_spec.id", ondelete="CASCADE"))
    data: Mapped[Any] = mapped_column(_JSON)


class EndpointRegistry(Base):
    """One row: the version of the set of specs. Every change bumps it; instances compare it with theirs."""

    __tablename__ = "endpoint_registry"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
