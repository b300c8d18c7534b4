"""Webhook deliveries counted by outcome (delivered, retried, failed) with their durations, in the worker's metrics
(the `/metrics` exposition and OTLP), labelled by outcome only: never an endpoint's id or URL (SQLite and
PostgreSQL)."""

from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint

from app.config import Settings
from app.core.database import Database, utcnow
from app.core.events import Events
from app.core.jobs import JobState
from app.core.metrics import Metrics, exposition
from app.features.webhooks.dispatch import DELIVER, FAN_OUT
from app.features.webhooks.models import DeliveryState
from app.jobs import event_subscriptions
from tests.support.jobs import all_jobs, set_job, working
from tests.support.polling import eventually
from tests.support.prometheus import sample, series
from tests.support.webhooks import Answer, Receiver, deliveries, register

pytestmark = pytest.mark.settings(webhook_allow_private_networks=True)


async def _record(database: Database, data: dict[str, Any]) -> None:
    async with database.session(writes=True) as session, session.begin():
        await Events(event_subscriptions()).record(session, "test.happened", data)


async def _retry_due(database: Database) -> bool:
    """The delivery job waiting for its retry made due now (the test's clock); True once done."""
    for job in await all_jobs(database):
        if job.type == DELIVER.name and job.state == JobState.QUEUED and job.attempts == 1:
            await set_job(database, job.id, run_at=utcnow())
            return True
    return False


async def _finished(database: Database) -> bool:
    found = await deliveries(database)
    return len(found) == 2 and all(delivery.state != DeliveryState.PENDING for delivery in found)


async def test_each_attempt_moves_the_counter_of_its_outcome_and_the_duration_histogram(
    database: Database, settings: Settings, hooks: Receiver
) -> None:
    hooks.answer("/flaky", Answer(500), Answer(200))
    hooks.answer("/gone", Answer(410))
    await register(database, settings, hooks.url("/flaky"), ["test.happened"])
    await register(database, settings, hooks.url("/gone"), ["test.happened"])
    reader = InMemoryMetricReader()
    metrics = Metrics(api_prefix="/api/v1", meter=MeterProvider(metric_readers=[reader]).get_meter("test"))
    await _record(database, {"n": 1})

    events = Events(event_subscriptions())
    async with working(database, [FAN_OUT, DELIVER], settings=settings, events=events, metrics=metrics.jobs):
        await eventually(lambda: _retry_due(database), message="the 500 retried")
        await eventually(lambda: _finished(database))

    text = exposition([metrics.shard.read()]).decode()
    assert sample(text, "webhook_deliveries_total", outcome="delivered") == 1
    assert sample(text, "webhook_deliveries_total", outcome="retried") == 1
    assert sample(text, "webhook_deliveries_total", outcome="failed") == 1
    assert {tuple(labels) for labels in series(text, "webhook_deliveries_total")} == {("outcome",)}
    assert sample(text, "webhook_delivery_duration_seconds_count") == 3
    assert sample(text, "webhook_delivery_duration_seconds_bucket", le="+Inf") == 3

    exported = reader.get_metrics_data()
    assert exported is not None
    points = {
        metric.name: list(metric.data.data_points)
        for resource in exported.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    by_outcome = {
        dict(point.attributes or {})["webhook.outcome"]: point.value
        for point in points["webhooks.deliveries"]
        if isinstance(point, NumberDataPoint)
    }
    assert by_outcome == {"delivered": 1, "retried": 1, "failed": 1}
    [duration] = points["webhooks.delivery.duration"]
    assert isinstance(duration, HistogramDataPoint)
    assert duration.count == 3
