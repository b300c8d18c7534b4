"""GET /api/v1/admin/dashboard: the features' daily series, the job queue, the webhooks' failure rate over a day and
the service's requests and errors, each matching what was seeded (SQLite and PostgreSQL); for admins only."""

from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.jobs import Job, JobState, enqueue
from app.features.users.models import User
from app.features.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint
from tests import helpers
from tests.support.auth import assert_problem
from tests.support.jobs import Note, Recorder, recording_type

DASHBOARD = "/api/v1/admin/dashboard"


async def _dashboard(client: httpx.AsyncClient, admin: helpers.Headers, **params: int) -> dict[str, Any]:
    response = await client.get(DASHBOARD, params=params, headers=admin)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_registrations_per_day_fill_the_window(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    today = datetime.now(UTC).date()
    three_days_ago = datetime.combine(today - timedelta(days=3), time(8), tzinfo=UTC)
    for n in range(2):
        db_session.add(User(email=f"past{n}@example.com", hashed_password=None, created_at=three_days_ago))
    await db_session.commit()

    body = await _dashboard(client, admin, days=5)
    assert (body["days"], body["since"]) == (5, (today - timedelta(days=4)).isoformat())
    [registrations] = [series for series in body["counts"] if series["name"] == "registrations"]
    days = [point["day"] for point in registrations["points"]]
    assert days == [(today - timedelta(days=offset)).isoformat() for offset in range(4, -1, -1)]
    counts = [point["count"] for point in registrations["points"]]
    assert counts[:4] == [0, 2, 0, 0]
    assert counts[4] >= 1  # today: the admin at least


async def _job(session: AsyncSession, state: JobState) -> None:
    job = await enqueue(session, recording_type(Recorder()), Note(text=state))
    await session.execute(update(Job).where(Job.id == job.id).values(state=state))


async def test_the_job_queue_by_state_and_its_dead_jobs(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    before = (await _dashboard(client, admin))["jobs"]
    assert set(before["by_state"]) == {state.value for state in JobState}
    for state in (JobState.DEAD, JobState.DEAD, JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED):
        await _job(db_session, state)
    await db_session.commit()

    after = (await _dashboard(client, admin))["jobs"]
    added = {state: after["by_state"][state] - before["by_state"][state] for state in before["by_state"]}
    assert added == {"queued": 1, "running": 1, "succeeded": 1, "dead": 2, "cancelled": 0}
    assert (after["dead"] - before["dead"], after["depth"] - before["depth"]) == (2, 2)


async def test_the_webhooks_failure_rate_over_the_last_day(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    endpoint = WebhookEndpoint(url="https://hooks.example.com/in", event_types=["*"], secret="whsec_x")
    db_session.add(endpoint)
    await db_session.flush()
    now = datetime.now(UTC)
    finished = [
        (DeliveryState.SUCCEEDED, now - timedelta(hours=1)),
        (DeliveryState.SUCCEEDED, now - timedelta(hours=23)),
        (DeliveryState.SUCCEEDED, now - timedelta(hours=2)),
        (DeliveryState.FAILED, now - timedelta(minutes=5)),
        (DeliveryState.FAILED, now - timedelta(hours=25)),  # before the window
        (DeliveryState.PENDING, None),  # not finished
    ]
    for n, (state, finished_at) in enumerate(finished):
        db_session.add(
            WebhookDelivery(
                endpoint_id=endpoint.id,
                event_type="test.happened",
                message_id=f"msg_{n}",
                body="{}",
                state=state,
                finished_at=finished_at,
            )
        )
    await db_session.commit()

    webhooks = (await _dashboard(client, admin))["webhooks"]
    assert webhooks == {"window_hours": 24, "succeeded": 3, "failed": 1, "failure_rate": 0.25}


async def test_no_finished_delivery_is_no_rate(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    assert (await _dashboard(client, admin))["webhooks"]["failure_rate"] is None


async def test_requests_and_errors_come_from_the_service_s_metrics(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    before = (await _dashboard(client, admin))["requests"]
    assert (await client.get("/api/v1/config")).status_code == 200
    assert (await client.get("/api/v1/no-such-thing")).status_code == 404
    assert (await client.get(DASHBOARD)).status_code == 401
    after = (await _dashboard(client, admin))["requests"]
    # The three requests, and the first dashboard's own (counted once it was answered).
    assert after["requests"] - before["requests"] == 4
    assert after["client_errors"] - before["client_errors"] == 2
    assert after["server_errors"] == before["server_errors"] == 0
    assert after["client_error_rate"] == pytest.approx(after["client_errors"] / after["requests"])
    assert after["server_error_rate"] == 0


@pytest.mark.settings(metrics_enabled=False)
async def test_without_metrics_there_are_no_request_rates(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    assert (await _dashboard(client, admin))["requests"] is None


async def test_only_admins_see_the_dashboard(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    assert_problem(await client.get(DASHBOARD, headers=user), 403, slug="forbidden")
    assert_problem(await client.get(DASHBOARD), 401, slug="unauthenticated")
    for days in (0, 367):
        helpers.problem(await client.get(DASHBOARD, params={"days": days}, headers=admin), 422, "validation-error")
