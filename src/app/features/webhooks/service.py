"""Admins' webhook endpoints: register (the secret is returned once), read, change, delete, rotate the secret; the
deliveries with their attempts, a redelivery, a test message. Events reach the endpoints through `dispatch`."""

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.audit import Audit, snapshot
from app.core.database import utcnow
from app.core.exceptions import ConflictError, FieldError, InvalidInputError, NotFoundError, found
from app.core.pagination import Page, PageParams
from app.features.webhooks import repository
from app.features.webhooks.dispatch import enqueue_delivery
from app.features.webhooks.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.features.webhooks.network import url_problem
from app.features.webhooks.schemas import (
    AttemptRead,
    DeliveryRead,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)
from app.features.webhooks.signing import message_body, new_message_id, new_secret

__all__ = [
    "PREVIOUS_SECRET_SIGNS_FOR",
    "TEST_EVENT",
    "DeliveryOutcomes",
    "DeliveryPendingError",
    "WebhookDisabledError",
    "create_endpoint",
    "delete_endpoint",
    "delivery_outcomes",
    "find_delivery",
    "get_endpoint",
    "list_deliveries",
    "list_endpoints",
    "redeliver",
    "rotate_secret",
    "send_test",
    "update_endpoint",
]

PREVIOUS_SECRET_SIGNS_FOR = timedelta(hours=24)
# What admins set on an endpoint, as audited (the secret sealed: its change shows, its value never).
_AUDITED = ("url", "event_types", "description", "enabled", "secret")
_ROTATED = ("secret", "previous_secret", "previous_secret_expires_at")
TEST_EVENT = "webhook.test"


class DeliveryPendingError(ConflictError):
    """The delivery is still being attempted: it can be redelivered once it has succeeded or failed."""

    slug = "delivery-pending"
    title = "Delivery Pending"


class WebhookDisabledError(ConflictError):
    """A disabled endpoint receives nothing, a test message included: enable it first."""

    slug = "webhook-disabled"
    title = "Webhook Disabled"


def _read(endpoint: WebhookEndpoint) -> WebhookRead:
    return WebhookRead(
        id=endpoint.id,
        url=endpoint.url,
        events=endpoint.event_types,
        description=endpoint.description,
        enabled=endpoint.enabled,
        disabled_at=endpoint.disabled_at,
        failing_since=endpoint.failing_since,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def _delivery_read(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> DeliveryRead:
    return DeliveryRead(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        message_id=delivery.message_id,
        state=DeliveryState(delivery.state),
        next_attempt_at=delivery.next_attempt_at,
        job_id=delivery.job_id,
        created_at=delivery.created_at,
        finished_at=delivery.finished_at,
        attempts=[
            AttemptRead(
                attempted_at=attempt.attempted_at,
                status_code=attempt.status_code,
                latency_ms=attempt.latency_ms,
                error=attempt.error,
                response_excerpt=attempt.response_excerpt,
            )
            for attempt in attempts
        ],
    )


def _check_url(url: str, settings: Settings) -> None:
    problem = url_problem(
        url, require_https=settings.is_production, allow_private=settings.webhook_allow_private_networks
    )
    if problem is not None:
        error = FieldError(pointer="#/url", message=problem, code="url")
        raise InvalidInputError("The URL cannot receive webhooks.", errors=[error])


async def _endpoint(session: AsyncSession, endpoint_id: int) -> WebhookEndpoint:
    return found(await repository.get_endpoint(session, endpoint_id), f"Webhook {endpoint_id} does not exist.")


async def create_endpoint(
    session: AsyncSession, *, data: WebhookCreate, settings: Settings, audit: Audit
) -> WebhookWithSecret:
    """Register an endpoint; its signing secret is in the reply and never shown again."""
    _check_url(data.url, settings)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        url=data.url, event_types=list(dict.fromkeys(data.events)), description=data.description, secret=secret
    )
    await repository.add(session, endpoint)
    after = snapshot(endpoint, _AUDITED)
    await audit.record(session, action="webhook.create", target_type="webhook", target_id=endpoint.id, after=after)
    return WebhookWithSecret(**_read(endpoint).model_dump(), secret=secret)


async def list_endpoints(session: AsyncSession, *, params: PageParams) -> Page[WebhookRead]:
    rows = await repository.list_endpoints(session, params=params)
    total = await repository.count_endpoints(session) if params.include_total else None
    endpoints, next_cursor = repository.ENDPOINTS_BY_ID.split(rows, params)
    items = [_read(endpoint) for endpoint in endpoints]
    return Page[WebhookRead].build(items, total=total, params=params, next_cursor=next_cursor)


async def get_endpoint(session: AsyncSession, *, endpoint_id: int) -> WebhookRead:
    return _read(await _endpoint(session, endpoint_id))


async def update_endpoint(
    session: AsyncSession, *, endpoint_id: int, data: WebhookUpdate, settings: Settings, audit: Audit
) -> WebhookRead:
    """Change the given fields. Enabling a disabled endpoint starts its record of failures afresh."""
    endpoint = await _endpoint(session, endpoint_id)
    before = snapshot(endpoint, _AUDITED)
    if data.url is not None:
        _check_url(data.url, settings)
        endpoint.url = data.url
    if data.events is not None:
        endpoint.event_types = list(dict.fromkeys(data.events))
    if data.description is not None:
        endpoint.description = data.description
    if data.enabled is not None and data.enabled != endpoint.enabled:
        endpoint.enabled = data.enabled
        endpoint.disabled_at = None if data.enabled else utcnow()
        endpoint.failing_since = None
    await session.flush()
    after = snapshot(endpoint, _AUDITED)
    await audit.record(
        session, action="webhook.update", target_type="webhook", target_id=endpoint_id, before=before, after=after
    )
    return _read(endpoint)


async def delete_endpoint(session: AsyncSession, *, endpoint_id: int, audit: Audit) -> None:
    """Delete the endpoint with its deliveries; jobs still queued for them find nothing to send."""
    before = snapshot(await _endpoint(session, endpoint_id), _AUDITED)
    if not await repository.delete_endpoint(session, endpoint_id):
        raise NotFoundError(f"Webhook {endpoint_id} does not exist.")
    await audit.record(session, action="webhook.delete", target_type="webhook", target_id=endpoint_id, before=before)


async def rotate_secret(session: AsyncSession, *, endpoint_id: int, audit: Audit) -> WebhookWithSecret:
    """A new secret, returned this once; the replaced one signs beside it for PREVIOUS_SECRET_SIGNS_FOR, so that
    receivers can switch without losing a message."""
    endpoint = await _endpoint(session, endpoint_id)
    before = snapshot(endpoint, _ROTATED)
    secret = new_secret()
    endpoint.previous_secret, endpoint.secret = endpoint.secret, secret
    endpoint.previous_secret_expires_at = utcnow() + PREVIOUS_SECRET_SIGNS_FOR
    await session.flush()
    after = snapshot(endpoint, _ROTATED)
    await audit.record(
        session,
        action="webhook.rotate_secret",
        target_type="webhook",
        target_id=endpoint_id,
        before=before,
        after=after,
    )
    return WebhookWithSecret(**_read(endpoint).model_dump(), secret=secret)


async def list_deliveries(session: AsyncSession, *, endpoint_id: int, params: PageParams) -> Page[DeliveryRead]:
    """The endpoint's deliveries, newest first, each with its attempts."""
    await _endpoint(session, endpoint_id)
    rows = await repository.list_deliveries(session, endpoint_id=endpoint_id, params=params)
    deliveries, next_cursor = repository.NEWEST_DELIVERIES_FIRST.split(rows, params)
    attempts = await repository.attempts_of(session, [delivery.id for delivery in deliveries])
    total = await repository.count_deliveries(session, endpoint_id=endpoint_id) if params.include_total else None
    items = [_delivery_read(delivery, attempts.get(delivery.id, [])) for delivery in deliveries]
    return Page[DeliveryRead].build(items, total=total, params=params, next_cursor=next_cursor)


async def find_delivery(session: AsyncSession, *, endpoint_id: int, delivery_id: int) -> DeliveryRead | None:
    """One of the endpoint's deliveries with its attempts, or None."""
    delivery = await repository.get_delivery(session, endpoint_id=endpoint_id, delivery_id=delivery_id)
    if delivery is None:
        return None
    return _delivery_read(delivery, (await repository.attempts_of(session, [delivery.id])).get(delivery.id, []))


async def redeliver(session: AsyncSession, *, endpoint_id: int, delivery_id: int, audit: Audit) -> DeliveryRead:
    """Send a delivery that succeeded or failed once more, with the same message id and body, on a new job."""
    endpoint = await _endpoint(session, endpoint_id)
    delivery = found(
        await repository.get_delivery(session, endpoint_id=endpoint_id, delivery_id=delivery_id),
        f"Webhook {endpoint_id} has no delivery {delivery_id}.",
    )
    if delivery.state == DeliveryState.PENDING:
        raise DeliveryPendingError(f"Delivery {delivery_id} is still being attempted.")
    if not endpoint.enabled:
        raise WebhookDisabledError(f"Webhook {endpoint_id} is disabled: enable it to send to it.")
    before = {"state": delivery.state, "job_id": delivery.job_id}
    delivery.state, delivery.finished_at = DeliveryState.PENDING, None
    await enqueue_delivery(session, delivery)
    after = {"state": delivery.state, "job_id": delivery.job_id}
    await audit.record(
        session,
        action="webhook.redeliver",
        target_type="webhook_delivery",
        target_id=delivery_id,
        before=before,
        after=after,
    )
    return _delivery_read(delivery, (await repository.attempts_of(session, [delivery.id])).get(delivery.id, []))


async def send_test(session: AsyncSession, *, endpoint_id: int, audit: Audit) -> DeliveryRead:
    """A `webhook.test` message for the endpoint, whatever event types it takes, delivered as events are."""
    endpoint = await _endpoint(session, endpoint_id)
    if not endpoint.enabled:
        raise WebhookDisabledError(f"Webhook {endpoint_id} is disabled: enable it to send to it.")
    now = utcnow()
    delivery = WebhookDelivery(
        endpoint_id=endpoint_id,
        event_id=None,
        event_type=TEST_EVENT,
        message_id=new_message_id(),
        body=message_body(TEST_EVENT, now, {"webhook_id": endpoint_id}),
        state=DeliveryState.PENDING,
        created_at=now,
    )
    await repository.add(session, delivery)
    await enqueue_delivery(session, delivery)
    after = {"delivery_id": delivery.id, "event_type": TEST_EVENT}
    await audit.record(session, action="webhook.test", target_type="webhook", target_id=endpoint_id, after=after)
    return _delivery_read(delivery, [])


class DeliveryOutcomes(NamedTuple):
    succeeded: int
    failed: int


async def delivery_outcomes(session: AsyncSession, *, since: datetime) -> DeliveryOutcomes:
    """How the deliveries that finished from `since` on ended: delivered, or failed for good (every attempt spent,
    or a final answer). Those still being attempted are in neither."""
    finished = await repository.finished_since(session, since=since)
    return DeliveryOutcomes(finished.get(DeliveryState.SUCCEEDED, 0), finished.get(DeliveryState.FAILED, 0))
