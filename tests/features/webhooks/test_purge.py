"""Finished webhook deliveries (succeeded, or failed for good) are deleted with their attempts
FORGE_WEBHOOK_DELIVERY_RETENTION_DAYS after they finished, by a built-in hourly job; pending ones never are, and 0
keeps them all (SQLite and PostgreSQL)."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.core.database import Database, utcnow
from app.core.jobs import Every, Periodic
from app.features.webhooks.housekeeping import PurgeDeliveries, purge_deliveries, purge_deliveries_before
from app.features.webhooks.models import DeliveryState, WebhookAttempt, WebhookDelivery
from app.jobs import job_registry
from tests.support.jobs import working
from tests.support.polling import eventually
from tests.support.settings import make_settings
from tests.support.webhooks import deliveries, register

pytestmark = pytest.mark.settings(webhook_allow_private_networks=True)


async def _delivery(database: Database, endpoint_id: int, state: DeliveryState, *, finished_days_ago: float) -> int:
    """A delivery in `state`, with two attempts, that finished (pending: was created) `finished_days_ago`."""
    moment = utcnow() - timedelta(days=finished_days_ago)
    async with database.session(writes=True) as session, session.begin():
        delivery = WebhookDelivery(
            endpoint_id=endpoint_id,
            event_id=None,
            event_type="test.happened",
            message_id="msg_test",
            body="{}",
            state=state,
            created_at=moment - timedelta(hours=1),
            finished_at=None if state is DeliveryState.PENDING else moment,
            next_attempt_at=moment if state is DeliveryState.PENDING else None,
        )
        session.add(delivery)
        await session.flush()
        for _ in range(2):
            session.add(WebhookAttempt(delivery_id=delivery.id, attempted_at=moment, latency_ms=5, status_code=500))
        return delivery.id


async def _attempt_count(database: Database) -> int:
    async with database.session(writes=False) as session:
        return int(await session.scalar(select(func.count()).select_from(WebhookAttempt)) or 0)


async def _fixture(database: Database, settings: Settings) -> dict[str, int]:
    endpoint = await register(database, settings, "http://127.0.0.1:9/in", ["*"])
    return {
        "old succeeded": await _delivery(database, endpoint.id, DeliveryState.SUCCEEDED, finished_days_ago=40),
        "old failed": await _delivery(database, endpoint.id, DeliveryState.FAILED, finished_days_ago=31),
        "old pending": await _delivery(database, endpoint.id, DeliveryState.PENDING, finished_days_ago=60),
        "recent succeeded": await _delivery(database, endpoint.id, DeliveryState.SUCCEEDED, finished_days_ago=29),
        "recent failed": await _delivery(database, endpoint.id, DeliveryState.FAILED, finished_days_ago=1),
    }


async def test_finished_deliveries_older_than_the_retention_go_with_their_attempts_pending_ones_never(
    database: Database, settings: Settings
) -> None:
    made = await _fixture(database, settings)
    deleted = await purge_deliveries_before(database, retention=timedelta(days=30), batch=1)  # batches of one

    assert deleted == 2
    remaining = {delivery.id for delivery in await deliveries(database)}
    assert remaining == {made["old pending"], made["recent succeeded"], made["recent failed"]}
    assert await _attempt_count(database) == 2 * 3  # the deleted deliveries' attempts went with them
    assert await purge_deliveries_before(database, retention=timedelta(days=30)) == 0


async def test_the_purge_runs_as_a_periodic_job(database: Database, settings: Settings) -> None:
    made = await _fixture(database, settings)
    often = Periodic(job_type=purge_deliveries, schedule=Every(seconds=0.1), payload=PurgeDeliveries(retention_days=7))

    async def purged() -> bool:
        return {delivery.id for delivery in await deliveries(database)} == {
            made["old pending"],
            made["recent failed"],
        }

    async with working(database, [], periodic=[often]):
        await eventually(purged)
    assert await _attempt_count(database) == 2 * 2


def test_the_app_s_workers_purge_hourly_with_the_configured_retention(settings: Settings) -> None:
    retained = make_settings(settings.database_url, webhook_delivery_retention_days=45)
    [purge] = [entry for entry in job_registry(retained).periodic if entry.job_type is purge_deliveries]
    assert purge.payload == PurgeDeliveries(retention_days=45)
    first = purge.schedule.after(utcnow())
    assert purge.schedule.after(first) - first == timedelta(hours=1)
    assert job_registry(retained).get("webhooks.purge") is purge_deliveries
    assert Settings.model_fields["webhook_delivery_retention_days"].default == 30
    kept = make_settings(settings.database_url, webhook_delivery_retention_days=0, events_retention_days=30)
    assert job_registry(kept).get("webhooks.purge") is None
    assert job_registry(kept).get("events.purge") is not None  # the events' own purge is unaffected
