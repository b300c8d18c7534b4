"""Webhook endpoints (where events are sent, and the secrets that sign them), their deliveries and attempts."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, TimestampMixin, utcnow
from app.core.encryption import EncryptedText

__all__ = ["DeliveryState", "WebhookAttempt", "WebhookDelivery", "WebhookEndpoint"]


class WebhookEndpoint(TimestampMixin, Base):
    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON)  # event types, or "*" for every event
    enabled: Mapped[bool] = mapped_column(default=True)
    # Encrypted, not hashed: signing needs the secret itself. The previous one signs too until it expires (rotation).
    secret: Mapped[str] = mapped_column(EncryptedText())
    previous_secret: Mapped[str | None] = mapped_column(EncryptedText())
    previous_secret_expires_at: Mapped[datetime | None]
    # The first failed attempt since the last successful one: five days of failures disable the endpoint.
    failing_since: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]


class DeliveryState(StrEnum):
    PENDING = "pending"  # its job will make (another) attempt: at `next_attempt_at`
    SUCCEEDED = "succeeded"  # an attempt got a 2xx
    FAILED = "failed"  # a final answer (a 4xx other than 408 and 429, a redirect, a refused address) or no attempt left


class WebhookDelivery(Base):
    """One event (or test message) for one endpoint: the same message, id and body, on every attempt."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),  # one delivery per event and endpoint, however often fanned out
        Index("ix_webhook_delivery_endpoint_id_id", "endpoint_id", "id"),  # an endpoint's, newest first
        Index("ix_webhook_delivery_finished_at", "finished_at"),  # the finished ones the purge deletes
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id", ondelete="CASCADE"))
    event_id: Mapped[int | None]  # None for a test message; no foreign key: events may be purged before deliveries
    event_type: Mapped[str] = mapped_column(String(100))
    message_id: Mapped[str] = mapped_column(String(40))  # the webhook-id header, which receivers deduplicate by
    body: Mapped[str] = mapped_column(Text)  # the JSON signed and sent, byte for byte the same on every attempt
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)
    job_id: Mapped[int | None]  # the job making its attempts (a redelivery enqueues a new one)
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One HTTP request of a delivery and what came of it: never the secret, never more than an excerpt of the
    receiver's answer."""

    __tablename__ = "webhook_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_delivery.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]  # None when no response came (refused address, network error, timeout)
    latency_ms: Mapped[int]
    error: Mapped[str | None] = mapped_column(String(500))
    response_excerpt: Mapped[str | None] = mapped_column(String(200))
