"""SQL for webhook endpoints, deliveries and attempts."""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import Keyset, PageParams
from app.features.webhooks.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "add",
    "attempts_of",
    "count_deliveries",
    "count_endpoints",
    "delete_endpoint",
    "delete_finished_deliveries",
    "delivered_endpoints",
    "delivery_with_endpoint",
    "disable_if_failing_since",
    "enabled_endpoints",
    "finished_deliveries_before",
    "finished_since",
    "get_delivery",
    "get_endpoint",
    "list_deliveries",
    "list_endpoints",
    "mark_failing",
    "mark_recovered",
    "update_delivery",
]


async def add[T: WebhookEndpoint | WebhookDelivery | WebhookAttempt](session: AsyncSession, row: T) -> T:
    session.add(row)
    await session.flush()
    return row


async def get_endpoint(session: AsyncSession, endpoint_id: int) -> WebhookEndpoint | None:
    return await session.get(WebhookEndpoint, endpoint_id)


# The endpoints' listing's order (the primary key's index).
ENDPOINTS_BY_ID = Keyset(WebhookEndpoint.id)
# An endpoint's deliveries, newest first: the index on (endpoint_id, id).
NEWEST_DELIVERIES_FIRST = Keyset(WebhookDelivery.id, descending=True)


async def list_endpoints(session: AsyncSession, *, params: PageParams) -> Sequence[WebhookEndpoint]:
    statement = ENDPOINTS_BY_ID.page(select(WebhookEndpoint), params)
    return (await session.scalars(statement)).all()


async def count_endpoints(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(WebhookEndpoint))).scalar_one()


async def delete_endpoint(session: AsyncSession, endpoint_id: int) -> bool:
    """Delete the endpoint, and with it (ON DELETE CASCADE) its deliveries and their attempts."""
    result = await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
    return int(getattr(result, "rowcount", 0)) > 0


async def enabled_endpoints(session: AsyncSession) -> Sequence[tuple[int, list[str]]]:
    """Every enabled endpoint's id and event types: few rows, filtered by type in Python (JSON lists compare
    differently on each database)."""
    statement = select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(WebhookEndpoint.enabled.is_(True))
    return [(row.id, row.event_types) for row in await session.execute(statement)]


async def delivered_endpoints(session: AsyncSession, event_id: int) -> set[int]:
    """The endpoints that already have a delivery of `event_id` (a fan-out that runs again adds no second one)."""
    statement = select(WebhookDelivery.endpoint_id).where(WebhookDelivery.event_id == event_id)
    return set((await session.scalars(statement)).all())


async def get_delivery(session: AsyncSession, *, endpoint_id: int, delivery_id: int) -> WebhookDelivery | None:
    statement = select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id
    )
    return (await session.scalars(statement)).one_or_none()


async def list_deliveries(session: AsyncSession, *, endpoint_id: int, params: PageParams) -> Sequence[WebhookDelivery]:
    statement = NEWEST_DELIVERIES_FIRST.page(
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id), params
    )
    return (await session.scalars(statement)).all()


async def count_deliveries(session: AsyncSession, *, endpoint_id: int) -> int:
    statement = select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    return (await session.execute(statement)).scalar_one()


async def attempts_of(session: AsyncSession, delivery_ids: Sequence[int]) -> dict[int, list[WebhookAttempt]]:
    """Each delivery's attempts, oldest first, in one query."""
    if not delivery_ids:
        return {}
    statement = select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(delivery_ids)).order_by(WebhookAttempt.id)
    attempts: defaultdict[int, list[WebhookAttempt]] = defaultdict(list)
    for attempt in await session.scalars(statement):
        attempts[attempt.delivery_id].append(attempt)
    return attempts


async def delivery_with_endpoint(
    session: AsyncSession, delivery_id: int
) -> tuple[WebhookDelivery, WebhookEndpoint] | None:
    statement = (
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id == delivery_id)
    )
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else (row[0], row[1])


async def update_delivery(session: AsyncSession, delivery_id: int, **values: Any) -> None:
    statement = (
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    await session.execute(statement)


async def mark_recovered(session: AsyncSession, endpoint_id: int) -> None:
    statement = (
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_not(None))
        .values(failing_since=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(statement)


async def mark_failing(session: AsyncSession, endpoint_id: int, *, now: datetime) -> None:
    """Start the endpoint's run of failures at `now`, unless one is already running."""
    statement = (
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_(None))
        .values(failing_since=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(statement)


async def disable_if_failing_since(
    session: AsyncSession, endpoint_id: int, *, before: datetime, now: datetime
) -> datetime | None:
    """Disable the endpoint if it is enabled and has failed since before `before`: one conditional UPDATE, so that
    of two attempts failing at once only one disables it. Returns when its failures began, if this disabled it."""
    statement = (
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.enabled.is_(True),
            WebhookEndpoint.failing_since <= before,
        )
        .values(enabled=False, disabled_at=now)
        .returning(WebhookEndpoint.failing_since)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalar_one_or_none()


def _finished_before(cutoff: datetime) -> ColumnElement[bool]:
    return (WebhookDelivery.finished_at < cutoff) & (WebhookDelivery.state != DeliveryState.PENDING)


async def finished_deliveries_before(session: AsyncSession, *, cutoff: datetime, limit: int) -> list[int]:
    """Up to `limit` deliveries that finished (succeeded or failed for good) before `cutoff`."""
    statement = select(WebhookDelivery.id).where(_finished_before(cutoff)).order_by(WebhookDelivery.id).limit(limit)
    return list((await session.scalars(statement)).all())


async def delete_finished_deliveries(session: AsyncSession, delivery_ids: Sequence[int], *, cutoff: datetime) -> int:
    """Delete those of `delivery_ids` still finished before `cutoff` (a redelivery since made one pending again),
    with their attempts (the foreign key's cascade); the number deleted."""
    result = await session.execute(
        delete(WebhookDelivery)
        .where(WebhookDelivery.id.in_(delivery_ids), _finished_before(cutoff))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


async def finished_since(session: AsyncSession, *, since: datetime) -> dict[str, int]:
    """How many deliveries finished (succeeded, or failed for good) from `since` on, by state."""
    statement = (
        select(WebhookDelivery.state, func.count())
        .where(WebhookDelivery.finished_at >= since)
        .group_by(WebhookDelivery.state)
    )
    return {state: int(count) for state, count in await session.execute(statement)}
