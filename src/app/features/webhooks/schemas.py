from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from app.core.events import ANY_EVENT
from app.core.input import InputModel
from app.features.webhooks.models import DeliveryState

__all__ = [
    "AttemptRead",
    "DeliveryRead",
    "WebhookCreate",
    "WebhookRead",
    "WebhookUpdate",
    "WebhookWithSecret",
]

# An event type (`order.placed`, `invoice.paid`) or "*" for every event.
EventTypeFilter = Annotated[str, Field(pattern=r"^(\*|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)$", max_length=100)]
EventTypes = Annotated[
    list[EventTypeFilter],
    Field(
        min_length=1,
        max_length=100,
        description=f'The event types sent to the endpoint (`"order.placed"`), or `"{ANY_EVENT}"` for every event.',
    ),
]
Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        description="Where events are POSTed: https (http outside production), no credentials; a private, loopback "
        "or link-local address is refused unless FORGE_WEBHOOK_ALLOW_PRIVATE_NETWORKS is set.",
    ),
]
Description = Annotated[str, Field(max_length=500)]


class WebhookCreate(InputModel):
    url: Url
    events: EventTypes
    description: Description = ""


class WebhookUpdate(InputModel):
    """The fields to change. `enabled: true` re-enables an endpoint that was disabled (by an admin or after five
    days of failed deliveries)."""

    url: Url | None = None
    events: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None


class WebhookRead(BaseModel):
    """An endpoint as listings show it: never its secret."""

    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_at: datetime | None
    failing_since: datetime | None = Field(description="The first failed attempt since the last successful one.")
    previous_secret_expires_at: datetime | None = Field(
        description="Until then, the secret replaced by the last rotation signs too."
    )
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookRead):
    secret: str = Field(
        description="The signing secret (`whsec_...`). Shown this once: store it now; it cannot be retrieved again."
    )


class AttemptRead(BaseModel):
    attempted_at: datetime
    status_code: int | None = Field(description="None when no response came (refused, network error, timeout).")
    latency_ms: int
    error: str | None
    response_excerpt: str | None = Field(description="At most the first 200 characters of the receiver's answer.")


class DeliveryRead(BaseModel):
    """One event (or test message) for the endpoint, and each attempt to send it."""

    id: int
    event_id: int | None
    event_type: str
    message_id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    state: DeliveryState
    next_attempt_at: datetime | None
    job_id: int | None
    created_at: datetime
    finished_at: datetime | None
    attempts: list[AttemptRead]
