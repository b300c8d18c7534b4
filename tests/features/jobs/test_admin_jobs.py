"""Admins list, retry and cancel jobs over HTTP; everyone else is refused."""

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import API_PREFIX
from app.core.jobs import Job, JobState, enqueue
from tests import helpers
from tests.support.jobs import Note, Recorder, recording_type

JOBS = f"{API_PREFIX}/admin/jobs"


async def _job(session: AsyncSession, state: JobState = JobState.QUEUED, **values: object) -> int:
    job = await enqueue(session, recording_type(Recorder()), Note(text=state))
    await session.execute(update(Job).where(Job.id == job.id).values(state=state, **values))
    return job.id


async def test_admins_list_jobs_newest_first_by_state_and_page(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    queued = [await _job(db_session) for _ in range(3)]
    dead = await _job(db_session, JobState.DEAD, attempts=3, last_error="RuntimeError: boom")

    everything = (await client.get(JOBS, headers=admin)).json()
    assert [job["id"] for job in everything["items"]] == [dead, *reversed(queued)]
    assert everything["total"] == 4

    page = (await client.get(JOBS, params={"state": "queued", "size": 2, "page": 2}, headers=admin)).json()
    assert ([job["id"] for job in page["items"]], page["total"], page["pages"]) == ([queued[0]], 3, 2)

    [listed] = (await client.get(JOBS, params={"state": "dead"}, headers=admin)).json()["items"]
    assert listed["id"] == dead
    assert (listed["type"], listed["state"], listed["attempts"], listed["max_attempts"]) == ("test.note", "dead", 3, 3)
    assert listed["last_error"] == "RuntimeError: boom"
    assert listed["payload"] == {"text": "dead"}

    assert (await client.get(JOBS, params={"state": "lost"}, headers=admin)).status_code == 422


async def test_a_dead_job_is_retried_with_all_its_attempts(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    dead = await _job(db_session, JobState.DEAD, attempts=3, last_error="RuntimeError: boom")
    response = await client.post(f"{JOBS}/{dead}/retry", headers=admin)
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["attempts"], body["finished_at"]) == ("queued", 0, None)
    assert body["last_error"] == "RuntimeError: boom"  # kept until the job runs again

    again = await client.post(f"{JOBS}/{dead}/retry", headers=admin)  # now queued: nothing to retry
    helpers.problem(again, 409, "invalid-job-state")


async def test_cancelling_follows_the_job_s_state(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    queued = await _job(db_session)
    response = await client.post(f"{JOBS}/{queued}/cancel", headers=admin)
    assert (response.status_code, response.json()["state"]) == (200, "cancelled")
    repeated = await client.post(f"{JOBS}/{queued}/cancel", headers=admin)
    assert (repeated.status_code, repeated.json()["state"]) == (200, "cancelled")
    retried = await client.post(f"{JOBS}/{queued}/retry", headers=admin)  # a cancelled job may be retried
    assert (retried.status_code, retried.json()["state"]) == (200, "queued")

    for state in (JobState.RUNNING, JobState.SUCCEEDED):
        job_id = await _job(db_session, state)
        helpers.problem(await client.post(f"{JOBS}/{job_id}/cancel", headers=admin), 409, "invalid-job-state")
    running = await _job(db_session, JobState.RUNNING)
    helpers.problem(await client.post(f"{JOBS}/{running}/retry", headers=admin), 409, "invalid-job-state")


async def test_an_unknown_job_is_404(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    for action in ("retry", "cancel"):
        helpers.problem(await client.post(f"{JOBS}/999999/{action}", headers=admin), 404, "not-found")


async def test_only_admins_operate_jobs(
    client: httpx.AsyncClient, user: helpers.Headers, db_session: AsyncSession
) -> None:
    job_id = await _job(db_session, JobState.DEAD)
    assert (await client.get(JOBS, headers=user)).status_code == 403
    assert (await client.post(f"{JOBS}/{job_id}/retry", headers=user)).status_code == 403
    assert (await client.post(f"{JOBS}/{job_id}/cancel")).status_code == 401
