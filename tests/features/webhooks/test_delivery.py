"""Events reach webhook endpoints as signed Standard Webhooks messages, through jobs, at real receivers on loopback:
verified with the `standardwebhooks` library and counted; retried on 5xx, 429 and timeouts on the schedule (the
clock driven by making the queued retry due); final on other 4xx and redirects (never followed); an endpoint failing
for five days disabled with an event (SQLite and PostgreSQL)."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.config import Settings
from app.core.database import Database, utcnow
from app.core.events import Event, Events
from app.core.jobs import Job, JobState, Worker
from app.core.logging import configure_logging
from app.features.webhooks import service
from app.features.webhooks.dispatch import DELIVER, FAN_OUT
from app.features.webhooks.models import DeliveryState, WebhookEndpoint
from app.jobs import event_subscriptions
from tests.support.audit import audit_as
from tests.support.jobs import all_jobs, job_of, set_job, working
from tests.support.polling import eventually
from tests.support.webhooks import Answer, Receiver, Request, attempts_of, deliveries, endpoint_of, register

pytestmark = pytest.mark.settings(webhook_allow_private_networks=True)


@asynccontextmanager
async def delivering(database: Database, settings: Settings, events: Events | None = None) -> AsyncIterator[Worker]:
    """A worker running the webhooks' job types, as the app's embedded worker does."""
    async with working(
        database, [FAN_OUT, DELIVER], settings=settings, events=events or Events(event_subscriptions())
    ) as worker:
        yield worker


async def _record(database: Database, event_type: str, data: dict[str, Any]) -> None:
    """An event recorded with the app's subscriptions, in a transaction of its own that commits."""
    async with database.session(writes=True) as session, session.begin():
        await Events(event_subscriptions()).record(session, event_type, data)


def _verified(secret: str, request: Request) -> dict[str, Any]:
    payload: dict[str, Any] = Webhook(secret).verify(request.body, request.headers)
    return payload


async def _settled(database: Database, count: int, state: DeliveryState = DeliveryState.SUCCEEDED) -> bool:
    found = await deliveries(database)
    return len(found) == count and all(delivery.state == state for delivery in found)


async def _awaiting_retry(database: Database, attempts: int) -> Job | None:
    """The delivery job, once it is queued again after its `attempts`-th attempt."""
    found = await deliveries(database)
    if len(found) != 1 or found[0].job_id is None:
        return None  # not fanned out yet
    job = await job_of(database, found[0].job_id)
    return job if job.state == JobState.QUEUED and job.attempts == attempts else None


async def _retry_now(database: Database, attempts: int) -> Job:
    """Wait for the retry after attempt `attempts`, check it is scheduled, and make it due now (the test's clock)."""

    async def awaiting() -> bool:
        return await _awaiting_retry(database, attempts) is not None

    await eventually(awaiting, message=f"a retry after attempt {attempts}")
    job = await _awaiting_retry(database, attempts)
    assert job is not None
    await set_job(database, job.id, run_at=utcnow())
    return job


async def test_every_event_is_delivered_once_and_verifies(
    database: Database, settings: Settings, hooks: Receiver
) -> None:
    happened = await register(database, settings, hooks.url("/happened"), ["test.happened"])
    everything = await register(database, settings, hooks.url("/everything"), ["*"])
    for n in range(5):
        await _record(database, "test.happened", {"n": n})
    await _record(database, "test.other", {"n": 99})
    async with delivering(database, settings):
        await eventually(lambda: _settled(database, 11))

    received = hooks.received("/happened")
    payloads = [_verified(happened.secret, request) for request in received]
    assert sorted(payload["data"]["n"] for payload in payloads) == [0, 1, 2, 3, 4]  # each once
    assert {payload["type"] for payload in payloads} == {"test.happened"}
    assert all(payload["timestamp"].endswith("Z") for payload in payloads)
    assert len({request.headers["webhook-id"] for request in received}) == 5
    assert {request.headers["content-type"] for request in received} == {"application/json"}
    everything_payloads = [_verified(everything.secret, request) for request in hooks.received("/everything")]
    assert sorted(payload["type"] for payload in everything_payloads) == ["test.happened"] * 5 + ["test.other"]
    with pytest.raises(WebhookVerificationError):
        _verified(everything.secret, received[0])  # another endpoint's secret does not verify it
    tampered = Request(received[0].path, received[0].headers, received[0].body.replace(b'"n":', b'"n": '))
    with pytest.raises(WebhookVerificationError):
        _verified(happened.secret, tampered)
    [attempt] = await attempts_of(database, (await deliveries(database, happened.id))[0].id)
    assert (attempt.status_code, attempt.error) == (204, None)


async def test_500_twice_then_200_is_delivered_once_on_the_third_attempt(
    database: Database, settings: Settings, hooks: Receiver
) -> None:
    hooks.answer(
        "/flaky", Answer(500, body=b"database down"), Answer(500, headers={"retry-after": "3600"}), Answer(200)
    )
    endpoint = await register(database, settings, hooks.url("/flaky"), ["test.happened"])
    await _record(database, "test.happened", {"id": 1})
    async with delivering(database, settings):
        first = await _retry_now(database, 1)
        [delivery] = await deliveries(database)
        [attempt] = await attempts_of(database, delivery.id)
        assert (delivery.state, delivery.next_attempt_at) == (DeliveryState.PENDING, first.run_at)
        assert timedelta(seconds=5) <= first.run_at - attempt.attempted_at <= timedelta(seconds=6)  # the schedule
        second = await _retry_now(database, 2)
        [_, attempt] = await attempts_of(database, delivery.id)
        assert second.run_at - attempt.attempted_at >= timedelta(hours=1)  # Retry-After beats the schedule's 5 min
        await eventually(lambda: _settled(database, 1))

    received = hooks.received("/flaky")
    assert len(received) == 3
    assert len({request.headers["webhook-id"] for request in received}) == 1  # one message, attempted three times
    for request in received:
        _verified(endpoint.secret, request)
    attempts = await attempts_of(database, delivery.id)
    assert [(a.status_code, a.error) for a in attempts] == [(500, "HTTP 500"), (500, "HTTP 500"), (200, None)]
    assert attempts[0].response_excerpt == "database down"
    job = await job_of(database, first.id)
    assert (job.state, job.attempts) == (JobState.SUCCEEDED, 3)
    assert (await endpoint_of(database, endpoint.id)).failing_since is None  # the success ended the run of failures


@pytest.mark.settings(webhook_timeout_seconds=1.0)
async def test_a_receiver_that_hangs_times_out_and_is_retried(
    database: Database, settings: Settings, hooks: Receiver
) -> None:
    hooks.answer("/hangs", Answer(hang=True), Answer(200))
    endpoint = await register(database, settings, hooks.url("/hangs"), ["test.happened"])
    await _record(database, "test.happened", {"id": 1})
    async with delivering(database, settings):
        await _retry_now(database, 1)
        await eventually(lambda: _settled(database, 1))
    [delivery] = await deliveries(database)
    first, second = await attempts_of(database, delivery.id)
    assert (first.status_code, first.error) == (None, "timed out after 1 s")
    assert second.status_code == 200
    assert len(hooks.received("/hangs")) == 2
    assert (await endpoint_of(database, endpoint.id)).failing_since is None


async def test_a_redirect_to_a_private_address_is_not_followed(
    database: Database, settings: Settings, hooks: Receiver
) -> None:
    hooks.answer("/moved", Answer(307, headers={"location": hooks.url("/internal")}))
    await register(database, settings, hooks.url("/moved"), ["test.happened"])
    await _record(database, "test.happened", {"id": 1})
    async with delivering(database, settings):
        await eventually(lambda: _settled(database, 1, DeliveryState.FAILED))
    assert len(hooks.received("/moved")) == 1
    assert hooks.received("/internal") == []
    [delivery] = await deliveries(database)
    [attempt] = await attempts_of(database, delivery.id)
    assert (attempt.status_code, attempt.error) == (307, "HTTP 307: redirects are not followed")
    assert (delivery.next_attempt_at, (await job_of(database, delivery.job_id or 0)).state) == (None, JobState.DEAD)


async def test_without_private_networks_a_loopback_receiver_is_never_contacted(
    database: Database, settings: Settings, hooks: Receiver
) -> None:
    await register(database, settings, hooks.url("/in"), ["test.happened"])  # registered while allowed
    await _record(database, "test.happened", {"id": 1})
    public_only = settings.model_copy(update={"webhook_allow_private_networks": False})
    async with delivering(database, public_only):
        await eventually(lambda: _settled(database, 1, DeliveryState.FAILED))
    assert hooks.requests == []
    [delivery] = await deliveries(database)
    [attempt] = await attempts_of(database, delivery.id)
    assert attempt.status_code is None
    assert attempt.error is not None
    assert "refused" in attempt.error
    assert "loopback" in attempt.error


async def test_after_a_rotation_both_secrets_sign_for_a_day(
    database: Database, settings: Settings, hooks: Receiver
) -> None:
    endpoint = await register(database, settings, hooks.url("/in"), ["test.happened"])
    async with database.session(writes=True) as session, session.begin():
        rotated = await service.rotate_secret(session, endpoint_id=endpoint.id, audit=audit_as())
    await _record(database, "test.happened", {"n": 1})
    async with delivering(database, settings):
        await eventually(lambda: _settled(database, 1))
        [request] = hooks.received("/in")
        new_signature, old_signature = request.headers["webhook-signature"].split(" ")
        for secret, signature in ((rotated.secret, new_signature), (endpoint.secret, old_signature)):
            _verified(secret, Request(request.path, request.headers | {"webhook-signature": signature}, request.body))

        async with database.session(writes=True) as session, session.begin():
            await session.execute(
                update(WebhookEndpoint).values(previous_secret_expires_at=utcnow() - timedelta(seconds=1))
            )
        await _record(database, "test.happened", {"n": 2})
        await eventually(lambda: _settled(database, 2))
    later = hooks.received("/in")[1]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    _verified(rotated.secret, later)
    with pytest.raises(WebhookVerificationError):
        _verified(endpoint.secret, later)


async def test_an_endpoint_failing_for_five_days_is_disabled_with_an_event(
    database: Database, settings: Settings, hooks: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    hooks.answer("/gone", Answer(410))
    failing = await register(database, settings, hooks.url("/gone"), ["test.happened"])
    watcher = await register(database, settings, hooks.url("/watch"), ["webhook.endpoint_disabled"])
    since = utcnow() - timedelta(days=5, minutes=1)
    async with database.session(writes=True) as session, session.begin():
        await session.execute(
            update(WebhookEndpoint).where(WebhookEndpoint.id == failing.id).values(failing_since=since)
        )
    await _record(database, "test.happened", {"id": 1})
    configure_logging(settings)  # as the app does: structlog through the standard library, where caplog reads
    with caplog.at_level(logging.WARNING, logger="app.webhooks"):
        async with delivering(database, settings):
            await eventually(lambda: len(hooks.received("/watch")) == 1)
            await _record(database, "test.happened", {"id": 2})  # after the endpoint was disabled
            await eventually(lambda: _all_jobs_done(database))

    assert len(hooks.received("/gone")) == 1  # 410 is final: no retry; the second event was not sent
    assert not (await endpoint_of(database, failing.id)).enabled
    notice = _verified(watcher.secret, hooks.received("/watch")[0])
    assert (notice["type"], notice["data"]["id"]) == ("webhook.endpoint_disabled", failing.id)
    async with database.session(writes=False) as session:
        types = (await session.scalars(select(Event.type).order_by(Event.id))).all()
    assert types == ["test.happened", "webhook.endpoint_disabled", "test.happened"]
    lines = [record.msg for record in caplog.records if isinstance(record.msg, dict)]
    assert [line["endpoint_id"] for line in lines if line["event"] == "webhook_endpoint_disabled"] == [failing.id]
    assert [d.endpoint_id for d in await deliveries(database) if d.event_type == "test.happened"] == [failing.id]


async def _all_jobs_done(database: Database) -> bool:
    return all(job.state in {JobState.SUCCEEDED, JobState.DEAD} for job in await all_jobs(database))


async def test_failures_for_less_than_five_days_only_start_the_count(
    database: Database, settings: Settings, hooks: Receiver
) -> None:
    hooks.answer("/bad", Answer(400, body=b"x" * 10_000))
    endpoint = await register(database, settings, hooks.url("/bad"), ["test.happened"])
    await _record(database, "test.happened", {"id": 1})
    async with delivering(database, settings):
        await eventually(lambda: _settled(database, 1, DeliveryState.FAILED))
    stored = await endpoint_of(database, endpoint.id)
    assert stored.enabled
    assert stored.failing_since is not None
    [delivery] = await deliveries(database)
    [attempt] = await attempts_of(database, delivery.id)
    assert attempt.response_excerpt == "x" * 200  # never the whole answer


async def test_a_redelivery_sends_the_same_message_again(
    database: Database, settings: Settings, hooks: Receiver
) -> None:
    endpoint = await register(database, settings, hooks.url("/in"), ["test.happened"])
    await _record(database, "test.happened", {"id": 1})
    async with delivering(database, settings):
        await eventually(lambda: _settled(database, 1))
        [delivery] = await deliveries(database)
        async with database.session(writes=True) as session, session.begin():
            await service.redeliver(session, endpoint_id=endpoint.id, delivery_id=delivery.id, audit=audit_as())
        await eventually(lambda: len(hooks.received("/in")) == 2)
        await eventually(lambda: _settled(database, 1))
    first, second = (_verified(endpoint.secret, request) for request in hooks.received("/in"))
    assert first == second
    assert len({request.headers["webhook-id"] for request in hooks.received("/in")}) == 1
    assert len(await attempts_of(database, delivery.id)) == 2


async def test_nothing_is_sent_for_a_rolled_back_event_or_a_deleted_endpoint(
    database: Database, settings: Settings, hooks: Receiver
) -> None:
    endpoint = await register(database, settings, hooks.url("/in"), ["test.happened"])
    async with database.session(writes=True) as session, session.begin():
        await Events(event_subscriptions()).record(session, "test.happened", {"id": 1})
        await session.rollback()
    assert await all_jobs(database) == []  # not even the fan-out

    await _record(database, "test.happened", {"id": 2})
    async with working(database, [FAN_OUT], settings=settings):  # fanned out, not yet delivered
        await eventually(lambda: _queued_delivery(database))
    async with database.session(writes=True) as session, session.begin():
        await service.delete_endpoint(session, endpoint_id=endpoint.id, audit=audit_as())
    async with delivering(database, settings):
        await eventually(lambda: _all_jobs_done(database))
    assert hooks.requests == []
    assert await deliveries(database) == []


async def _queued_delivery(database: Database) -> bool:
    return any(job.type == DELIVER.name and job.state == JobState.QUEUED for job in await all_jobs(database))
