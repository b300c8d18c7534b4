"""The embedded worker's metrics on GET /metrics: attempts by type and outcome, start delays, the queue's depth."""

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.core.database import Database
from app.core.jobs import JobRegistry, JobState, enqueue
from app.main import create_app
from tests.support.app import running
from tests.support.jobs import Note, Recorder, all_jobs, recording_type
from tests.support.polling import eventually
from tests.support.prometheus import sample
from tests.support.settings import BASE_URL

pytestmark = pytest.mark.settings(jobs_run_in_server=True, jobs_poll_seconds=0.02)


async def test_attempts_delays_and_depth_are_counted(
    settings: Settings, engine: AsyncEngine, database: Database
) -> None:
    succeeding = recording_type(Recorder(), name="test.ok")
    failing = recording_type(Recorder(failures=10), name="test.failing", max_attempts=2)
    async with database.session(writes=True) as session, session.begin():
        await enqueue(session, succeeding, Note())
        await enqueue(session, failing, Note())

    async with (
        running(create_app(settings, jobs=JobRegistry([succeeding, failing]))) as started,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as client,
    ):
        scraped: list[str] = []

        async def both_finished() -> bool:  # as counted: the count follows the recorded outcome
            scraped.append((await client.get("/metrics")).text)
            return sample(scraped[-1], "jobs_total", type="test.failing", outcome="dead") == 1 and (
                sample(scraped[-1], "jobs_total", type="test.ok", outcome="succeeded") == 1
            )

        await eventually(both_finished)
    text = scraped[-1]
    counts = {
        (kind, outcome): sample(text, "jobs_total", type=kind, outcome=outcome)
        for kind in ("test.ok", "test.failing")
        for outcome in ("started", "succeeded", "failed", "dead")
    }
    assert counts == {
        ("test.ok", "started"): 1,
        ("test.ok", "succeeded"): 1,
        ("test.ok", "failed"): None,
        ("test.ok", "dead"): None,
        ("test.failing", "started"): 2,
        ("test.failing", "succeeded"): None,
        ("test.failing", "failed"): 1,
        ("test.failing", "dead"): 1,
    }
    assert sample(text, "job_start_delay_seconds_count") == 3
    assert sample(text, "jobs_due") == 2  # counted as the worker started, before it claimed them
    assert sorted(job.state for job in await all_jobs(database)) == [JobState.DEAD, JobState.SUCCEEDED]
