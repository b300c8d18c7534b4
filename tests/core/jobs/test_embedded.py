"""The embedded worker: jobs enqueued by a request run inside the server, and a request that fails after
enqueueing leaves no job."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import API_PREFIX, Settings
from app.core.database import Database
from app.core.jobs import JobRegistry, JobState
from app.main import create_app
from tests.support.app import running
from tests.support.jobs import Recorder, all_jobs, enqueue_router, recording_type
from tests.support.polling import eventually
from tests.support.settings import BASE_URL

pytestmark = pytest.mark.settings(jobs_run_in_server=True, jobs_poll_seconds=0.02)


@dataclass(frozen=True, slots=True)
class Served:
    client: httpx.AsyncClient
    recorder: Recorder


@pytest.fixture
async def served(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Served]:
    recorder = Recorder()
    note = recording_type(recorder, name="test.embedded")
    app: FastAPI = create_app(settings, jobs=JobRegistry([note]))
    app.include_router(enqueue_router(note), prefix=API_PREFIX)
    async with (
        running(app) as started,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as client,
    ):
        yield Served(client, recorder)


async def test_a_request_s_job_runs_in_the_server(served: Served, database: Database) -> None:
    response = await served.client.post(f"{API_PREFIX}/test-jobs", params={"text": "hello"})
    assert response.status_code == 201
    job_id = response.json()["id"]
    await eventually(lambda: _all_succeeded(database))
    assert served.recorder.runs == {job_id: 1}


async def test_a_request_that_fails_after_enqueueing_leaves_no_job(served: Served, database: Database) -> None:
    response = await served.client.post(f"{API_PREFIX}/test-jobs", params={"text": "lost", "fail": "true"})
    assert response.status_code == 409
    assert await all_jobs(database) == []


@pytest.mark.settings(jobs_run_in_server=False)
async def test_the_server_runs_no_jobs_when_told_not_to(served: Served, database: Database) -> None:
    response = await served.client.post(f"{API_PREFIX}/test-jobs", params={"text": "for a worker"})
    assert response.status_code == 201
    # The embedded worker, polling every 20 ms, would have started it long before.
    with pytest.raises(AssertionError):
        await eventually(lambda: bool(served.recorder.started), seconds=1)
    [job] = await all_jobs(database)
    assert (job.state, job.attempts) == (JobState.QUEUED, 0)


async def _all_succeeded(database: Database) -> bool:
    return [job.state for job in await all_jobs(database)] == [JobState.SUCCEEDED]
