"""Events to webhooks, as jobs: a fan-out job for every event, and a delivery job per (event, endpoint).

`FAN_OUT` is subscribed to every event type (`ANY_EVENT`, in app/jobs.py), so it is enqueued in the transaction
that records the event: an event whose write rolls back never reaches a webhook. It creates a delivery, and
enqueues a `DELIVER` job, for each enabled endpoint whose event types match, in one transaction; run again (at least
once), it adds no second delivery for an endpoint that has one.

A `DELIVER` job makes one attempt per run and records it; the job queue runs the next attempt on `SCHEDULE`
(`RetryLater`) or ends the job (`GiveUp`) on a final answer. An endpoint that has failed every attempt for
FAILING_FOR is disabled, with a log line and a `webhook.endpoint_disabled` event.
"""

from datetime import datetime, timedelta

import structlog
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import utcnow
from app.core.events import ANY_EVENT, EventMessage
from app.core.jobs import GiveUp, JobContext, JobType, RetryLater, enqueue
from app.features.webhooks import repository
from app.features.webhooks.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.features.webhooks.sending import SCHEDULE, Attempt, Verdict, next_attempt_at, send
from app.features.webhooks.signing import message_body, new_message_id, signed_headers

__all__ = [
    "DELIVER",
    "DISABLED_EVENT",
    "FAILING_FOR",
    "FAN_OUT",
    "DeliveryJob",
    "create_deliveries",
    "enqueue_delivery",
]

FAILING_FOR = timedelta(days=5)
DISABLED_EVENT = "webhook.endpoint_disabled"
_log = structlog.get_logger("app.webhooks")


class DeliveryJob(BaseModel):
    delivery_id: int


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the one it replaced until that expires."""
    expires = endpoint.previous_secret_expires_at
    previous = [endpoint.previous_secret] if endpoint.previous_secret and expires and expires > now else []
    return [endpoint.secret, *previous]


async def enqueue_delivery(session: AsyncSession, delivery: WebhookDelivery) -> None:
    """A job for the delivery's attempts, in the caller's transaction."""
    job = await enqueue(session, DELIVER, DeliveryJob(delivery_id=delivery.id))
    delivery.job_id, delivery.next_attempt_at = job.id, job.run_at
    await session.flush()


async def create_deliveries(session: AsyncSession, message: EventMessage) -> list[WebhookDelivery]:
    """A delivery, and its job, for each enabled endpoint subscribed to the event that has none yet."""
    subscribed = {
        endpoint_id
        for endpoint_id, event_types in await repository.enabled_endpoints(session)
        if message.type in event_types or ANY_EVENT in event_types
    }
    if not subscribed:
        return []
    body = message_body(message.type, message.occurred_at, message.data)
    created = []
    for endpoint_id in sorted(subscribed - await repository.delivered_endpoints(session, message.id)):
        delivery = WebhookDelivery(
            endpoint_id=endpoint_id,
            event_id=message.id,
            event_type=message.type,
            message_id=new_message_id(),
            body=body,
            state=DeliveryState.PENDING,
            created_at=utcnow(),
        )
        await repository.add(session, delivery)
        await enqueue_delivery(session, delivery)
        created.append(delivery)
    return created


async def _fan_out(message: EventMessage, context: JobContext) -> None:
    async with context.database.session(writes=True) as session, session.begin():
        await create_deliveries(session, message)


async def _deliver(job: DeliveryJob, context: JobContext) -> None:
    async with context.database.session(writes=False) as session:
        found = await repository.delivery_with_endpoint(session, job.delivery_id)
    if found is None:
        return  # its endpoint was deleted, and the delivery with it
    delivery, endpoint = found
    if delivery.state == DeliveryState.SUCCEEDED:
        return  # delivered by an earlier run, whose outcome the queue did not learn (at least once)
    if not endpoint.enabled:
        async with context.database.session(writes=True) as session, session.begin():
            await repository.update_delivery(
                session, delivery.id, state=DeliveryState.FAILED, next_attempt_at=None, finished_at=utcnow()
            )
        return
    settings, sent_at, body = context.settings, utcnow(), delivery.body.encode()
    attempt = await send(
        endpoint.url,
        body=body,
        headers=signed_headers(
            signing_secrets(endpoint, sent_at), message_id=delivery.message_id, sent_at=sent_at, body=body
        ),
        deadline_seconds=settings.webhook_timeout_seconds,
        require_https=settings.is_production,
        allow_private=settings.webhook_allow_private_networks,
    )
    retry_at = next_attempt_at(attempt, number=context.attempt, now=utcnow())
    await _record(context, delivery, attempt, sent_at=sent_at, retry_at=retry_at)
    _count(context, attempt, retry_at=retry_at)
    if attempt.verdict is Verdict.DELIVERED:
        return
    if retry_at is not None:
        raise RetryLater(attempt.summary, at=retry_at)
    raise GiveUp(attempt.summary)


def _count(context: JobContext, attempt: Attempt, *, retry_at: datetime | None) -> None:
    if context.metrics is None:
        return
    outcome = "delivered" if attempt.verdict is Verdict.DELIVERED else "retried" if retry_at else "failed"
    context.metrics.webhooks.attempted(outcome, attempt.latency_ms / 1000)


async def _record(
    context: JobContext, delivery: WebhookDelivery, attempt: Attempt, *, sent_at: datetime, retry_at: datetime | None
) -> None:
    """The attempt, the delivery's new state and the endpoint's run of failures, in one transaction."""
    delivered = attempt.verdict is Verdict.DELIVERED
    state = DeliveryState.SUCCEEDED if delivered else DeliveryState.PENDING if retry_at else DeliveryState.FAILED
    endpoint_id, disabled_since = delivery.endpoint_id, None
    async with context.database.session(writes=True) as session, session.begin():
        await repository.add(
            session,
            WebhookAttempt(
                delivery_id=delivery.id,
                attempted_at=sent_at,
                status_code=attempt.status_code,
                latency_ms=attempt.latency_ms,
                error=attempt.error[:500] if attempt.error else None,
                response_excerpt=attempt.response_excerpt,
            ),
        )
        finished_at = None if state is DeliveryState.PENDING else utcnow()
        await repository.update_delivery(
            session, delivery.id, state=state, next_attempt_at=retry_at, finished_at=finished_at
        )
        if delivered:
            await repository.mark_recovered(session, endpoint_id)
        else:
            await repository.mark_failing(session, endpoint_id, now=sent_at)
            disabled_since = await repository.disable_if_failing_since(
                session, endpoint_id, before=sent_at - FAILING_FOR, now=utcnow()
            )
            if disabled_since is not None:
                data = {"id": endpoint_id, "failing_since": disabled_since.isoformat()}
                await context.events.record(session, DISABLED_EVENT, data)
    _log.info(
        "webhook_attempt",
        endpoint_id=endpoint_id,
        delivery_id=delivery.id,
        attempt=context.attempt,
        outcome=attempt.verdict.value,
        status_code=attempt.status_code,
        latency_ms=attempt.latency_ms,
        error=attempt.error,
        retry_at=retry_at,
    )
    if disabled_since is not None:
        _log.warning("webhook_endpoint_disabled", endpoint_id=endpoint_id, failing_since=disabled_since.isoformat())


# A run makes one HTTP attempt within FORGE_WEBHOOK_TIMEOUT_SECONDS (at most 30): 60 s leaves the database its time.
DELIVER = JobType(
    name="webhooks.deliver", payload=DeliveryJob, handler=_deliver, timeout_seconds=60.0, max_attempts=len(SCHEDULE)
)
FAN_OUT = JobType(name="webhooks.fan-out", payload=EventMessage, handler=_fan_out, timeout_seconds=60.0)
