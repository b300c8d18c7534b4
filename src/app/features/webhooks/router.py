from typing import Any

from fastapi import APIRouter, status

from app.core.context import Context
from app.core.database import DBSession
from app.core.identifiers import ResourceID
from app.core.pagination import Page, Pagination
from app.features.auth.dependencies import AdminAudit, AdminUser
from app.features.webhooks import service
from app.features.webhooks.schemas import DeliveryRead, WebhookCreate, WebhookRead, WebhookUpdate, WebhookWithSecret
from app.shared.routing import ForgeRoute

__all__ = ["router"]

router = APIRouter(prefix="/admin/webhooks", tags=["webhooks"], route_class=ForgeRoute)

_CANNOT_SEND: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "The delivery is still pending (`delivery-pending`), or the webhook is disabled "
        "(`webhook-disabled`)."
    }
}


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_webhook(
    data: WebhookCreate, session: DBSession, audit: AdminAudit, context: Context
) -> WebhookWithSecret:
    """Register an endpoint. The reply's `secret` signs every message to it, and is shown this once."""
    return await service.create_endpoint(session, data=data, settings=context.settings, audit=audit)


@router.get("")
async def list_webhooks(session: DBSession, _admin: AdminUser, pagination: Pagination) -> Page[WebhookRead]:
    return await service.list_endpoints(session, params=pagination)


@router.get("/{webhook_id}")
async def get_webhook(webhook_id: ResourceID, session: DBSession, _admin: AdminUser) -> WebhookRead:
    return await service.get_endpoint(session, endpoint_id=webhook_id)


@router.patch("/{webhook_id}")
async def update_webhook(
    webhook_id: ResourceID, data: WebhookUpdate, session: DBSession, audit: AdminAudit, context: Context
) -> WebhookRead:
    return await service.update_endpoint(
        session, endpoint_id=webhook_id, data=data, settings=context.settings, audit=audit
    )


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(webhook_id: ResourceID, session: DBSession, audit: AdminAudit) -> None:
    """Delete the endpoint and its deliveries."""
    await service.delete_endpoint(session, endpoint_id=webhook_id, audit=audit)


@router.post("/{webhook_id}/rotate-secret")
async def rotate_webhook_secret(webhook_id: ResourceID, session: DBSession, audit: AdminAudit) -> WebhookWithSecret:
    """A new signing secret, shown this once; the old one keeps signing beside it for 24 hours."""
    return await service.rotate_secret(session, endpoint_id=webhook_id, audit=audit)


@router.get("/{webhook_id}/deliveries")
async def list_webhook_deliveries(
    webhook_id: ResourceID, session: DBSession, _admin: AdminUser, pagination: Pagination
) -> Page[DeliveryRead]:
    """The endpoint's deliveries, newest first: attempts, status codes, latency, the next attempt."""
    return await service.list_deliveries(session, endpoint_id=webhook_id, params=pagination)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=status.HTTP_202_ACCEPTED, responses=_CANNOT_SEND
)
async def redeliver_webhook(
    webhook_id: ResourceID, delivery_id: ResourceID, session: DBSession, audit: AdminAudit
) -> DeliveryRead:
    """Send a delivery that succeeded or failed again: the same message (id and body), newly signed."""
    return await service.redeliver(session, endpoint_id=webhook_id, delivery_id=delivery_id, audit=audit)


@router.post("/{webhook_id}/test", status_code=status.HTTP_202_ACCEPTED, responses=_CANNOT_SEND)
async def send_webhook_test(webhook_id: ResourceID, session: DBSession, audit: AdminAudit) -> DeliveryRead:
    """Send a `webhook.test` message to the endpoint, delivered (and retried) as events are."""
    return await service.send_test(session, endpoint_id=webhook_id, audit=audit)
