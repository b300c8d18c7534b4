"""Webhooks in the admin console, through this feature's service: the endpoints (never their secrets), enabled and
disabled, sent a test message; an endpoint's deliveries with their attempts, and a finished one sent again
(redelivered with the same message id and body). Each change is recorded by the service, as through the API."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette_admin import (
    BooleanField,
    DateTimeField,
    EnumField,
    IntegerField,
    StringField,
    TextAreaField,
    link_row_action,
    row_action,
)
from starlette_admin.filters import FilterGroup

from app.core.audit import Audit
from app.core.context import context_of
from app.core.exceptions import NotFoundError
from app.core.pagination import PageParams
from app.features.webhooks import service
from app.features.webhooks.models import DeliveryState
from app.features.webhooks.schemas import DeliveryRead, WebhookRead, WebhookUpdate
from app.shared.console import UNSEARCHED, ConsoleSection, ServiceView, integer_pk, page_of, pair_pk, read_session

__all__ = ["section"]


@dataclass(frozen=True, slots=True)
class EndpointRow:
    id: int
    url: str
    events: str
    description: str
    enabled: bool
    failing_since: datetime | None
    disabled_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookRead) -> "EndpointRow":
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            events=", ".join(endpoint.events),
            description=endpoint.description,
            enabled=endpoint.enabled,
            failing_since=endpoint.failing_since,
            disabled_at=endpoint.disabled_at,
            created_at=endpoint.created_at,
        )


class WebhooksView(ServiceView):
    key = "webhooks"
    menu_label = "Webhooks"
    display_name = "Webhook"
    icon = "fa fa-satellite-dish"
    pk_attr = "id"
    fields = (
        IntegerField("id", label="ID"),
        StringField("url", label="URL"),
        StringField("events"),
        StringField("description"),
        BooleanField("enabled"),
        DateTimeField("failing_since", label="Failing since"),
        DateTimeField("disabled_at", label="Disabled", exclude_from_list=True),
        DateTimeField("created_at", exclude_from_list=True),
    )
    searchable_fields = ()
    sortable_fields = ()
    list_template = UNSEARCHED

    def can_create(self, request: Request) -> bool:
        return False  # its secret is shown once, to whoever registers it: through the API or the CLI

    def can_edit(self, request: Request) -> bool:
        return False

    def can_delete(self, request: Request) -> bool:
        return False

    async def repr(self, obj: Any, request: Request) -> str:
        return str(obj.url)

    async def find_all(
        self,
        request: Request,
        skip: int = 0,
        limit: int = 100,
        q: str | None = None,
        sorts: Sequence[tuple[str, str]] | None = None,
        filters: FilterGroup | None = None,
    ) -> Sequence[EndpointRow]:
        async with read_session(request) as session:
            page = await service.list_endpoints(session, params=page_of(skip, limit))
        return [EndpointRow.of(endpoint) for endpoint in page.items]

    async def count(self, request: Request, q: str | None = None, filters: FilterGroup | None = None) -> int:
        async with read_session(request) as session:
            return (await service.list_endpoints(session, params=PageParams(size=1))).total or 0

    async def find_by_pk(self, request: Request, pk: Any) -> EndpointRow | None:
        endpoint_id = integer_pk(pk)
        if endpoint_id is None:
            return None
        async with read_session(request) as session:
            try:
                return EndpointRow.of(await service.get_endpoint(session, endpoint_id=endpoint_id))
            except NotFoundError:
                return None

    async def is_row_action_allowed_for_obj(self, request: Request, name: str, obj: Any) -> bool:
        shown: dict[str, bool] = {"enable": not obj.enabled, "disable": obj.enabled, "send_test": obj.enabled}
        if name in shown:
            return shown[name]
        return await super().is_row_action_allowed_for_obj(request, name, obj)

    async def _set_enabled(self, request: Request, pk: Any, *, enabled: bool) -> None:
        endpoint_id = integer_pk(pk) or 0
        settings = context_of(request).settings

        async def update(session: AsyncSession, audit: Audit) -> None:
            changes = WebhookUpdate(enabled=enabled)
            await service.update_endpoint(
                session, endpoint_id=endpoint_id, data=changes, settings=settings, audit=audit
            )

        await self.act(request, "enable" if enabled else "disable", str(pk), update)

    @row_action(name="enable", text="Enable", confirmation="Send events to this endpoint again?")
    async def enable(self, request: Request, pk: Any) -> str:
        await self._set_enabled(request, pk, enabled=True)
        return "The webhook is enabled: its record of failures starts afresh."

    @row_action(
        name="disable", text="Disable", confirmation="Stop sending events to this endpoint?", icon_class="fa fa-pause"
    )
    async def disable(self, request: Request, pk: Any) -> str:
        await self._set_enabled(request, pk, enabled=False)
        return "The webhook is disabled."

    @row_action(name="send_test", text="Send a test", confirmation="Send a webhook.test message now?")
    async def send_test(self, request: Request, pk: Any) -> str:
        endpoint_id = integer_pk(pk) or 0

        async def send(session: AsyncSession, audit: Audit) -> DeliveryRead:
            return await service.send_test(session, endpoint_id=endpoint_id, audit=audit)

        delivery = await self.act(request, "send_test", str(pk), send)
        return f"Test message queued (delivery {delivery.id})."

    @link_row_action(name="deliveries", text="Deliveries", icon_class="fa fa-list")
    def deliveries(self, request: Request, pk: Any) -> str:
        return str(request.url_for("admin:list", key="webhook-deliveries").include_query_params(q=str(pk)))


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """A delivery as the console shows it; its id in the console is `<endpoint>-<delivery>`, as a delivery is looked
    up by its endpoint."""

    id: str
    endpoint_id: int
    delivery_id: int
    event_type: str
    state: DeliveryState
    message_id: str
    attempt_count: int
    last_status: str
    attempts: str
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, endpoint_id: int, delivery: DeliveryRead) -> "DeliveryRow":
        lines = [
            f"{a.attempted_at.isoformat(timespec='seconds')}: {a.status_code or 'no answer'} in {a.latency_ms} ms"
            + (f" ({a.error})" if a.error else "")
            for a in delivery.attempts
        ]
        last = delivery.attempts[-1] if delivery.attempts else None
        return cls(
            id=f"{endpoint_id}-{delivery.id}",
            endpoint_id=endpoint_id,
            delivery_id=delivery.id,
            event_type=delivery.event_type,
            state=delivery.state,
            message_id=delivery.message_id,
            attempt_count=len(delivery.attempts),
            last_status="" if last is None else str(last.status_code or last.error or "no answer"),
            attempts="\n".join(lines),
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
            finished_at=delivery.finished_at,
        )


class DeliveriesView(ServiceView):
    key = "webhook-deliveries"
    menu_label = "Webhook deliveries"
    display_name = "Delivery"
    icon = "fa fa-paper-plane"
    pk_attr = "id"
    fields = (
        StringField("id", label="ID"),
        IntegerField("endpoint_id", label="Webhook"),
        StringField("event_type", label="Event"),
        EnumField("state", enum=DeliveryState),
        IntegerField("attempt_count", label="Attempts"),
        StringField("last_status", label="Last answer"),
        TextAreaField("attempts", label="Each attempt", exclude_from_list=True),
        StringField("message_id", label="Message id", exclude_from_list=True),
        DateTimeField("next_attempt_at", label="Next attempt", exclude_from_list=True),
        DateTimeField("created_at"),
        DateTimeField("finished_at", label="Finished"),
    )
    searchable_fields = ("endpoint_id",)
    sortable_fields = ()

    def can_create(self, request: Request) -> bool:
        return False  # deliveries are made by events (or a test message)

    def can_edit(self, request: Request) -> bool:
        return False

    def can_delete(self, request: Request) -> bool:
        return False  # the hourly purge removes finished ones (FORGE_WEBHOOK_DELIVERY_RETENTION_DAYS)

    async def repr(self, obj: Any, request: Request) -> str:
        return f"Delivery {obj.delivery_id} of webhook {obj.endpoint_id}"

    async def _deliveries(self, request: Request, q: str | None, params: PageParams) -> tuple[list[DeliveryRow], int]:
        endpoint_id = integer_pk(q) if q else None
        if endpoint_id is None:
            return [], 0  # an endpoint's deliveries: search by the webhook's id
        async with read_session(request) as session:
            try:
                page = await service.list_deliveries(session, endpoint_id=endpoint_id, params=params)
            except NotFoundError:
                return [], 0
        return [DeliveryRow.of(endpoint_id, delivery) for delivery in page.items], page.total or 0

    async def find_all(
        self,
        request: Request,
        skip: int = 0,
        limit: int = 100,
        q: str | None = None,
        sorts: Sequence[tuple[str, str]] | None = None,
        filters: FilterGroup | None = None,
    ) -> Sequence[DeliveryRow]:
        return (await self._deliveries(request, q, page_of(skip, limit)))[0]

    async def count(self, request: Request, q: str | None = None, filters: FilterGroup | None = None) -> int:
        return (await self._deliveries(request, q, PageParams(size=1)))[1]

    async def find_by_pk(self, request: Request, pk: Any) -> DeliveryRow | None:
        ids = pair_pk(pk)
        if ids is None:
            return None
        async with read_session(request) as session:
            found = await service.find_delivery(session, endpoint_id=ids[0], delivery_id=ids[1])
        return None if found is None else DeliveryRow.of(ids[0], found)

    async def is_row_action_allowed_for_obj(self, request: Request, name: str, obj: Any) -> bool:
        if name == "redeliver":
            return obj.state is not DeliveryState.PENDING
        return await super().is_row_action_allowed_for_obj(request, name, obj)

    @row_action(
        name="redeliver",
        text="Redeliver",
        confirmation="Send this message again (same id and body)?",
        icon_class="fa fa-rotate-right",
    )
    async def redeliver(self, request: Request, pk: Any) -> str:
        endpoint_id, delivery_id = pair_pk(pk) or (0, 0)

        async def redeliver(session: AsyncSession, audit: Audit) -> None:
            await service.redeliver(session, endpoint_id=endpoint_id, delivery_id=delivery_id, audit=audit)

        await self.act(request, "redeliver", str(pk), redeliver)
        return "The delivery is queued again."


section = ConsoleSection(views=(WebhooksView, DeliveriesView))
