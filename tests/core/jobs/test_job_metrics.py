"""The job metrics on GET /metrics: jobs enqueued (as they commit), attempts by type and outcome, expired leases,
start delays, the queue's depth and the workers' readiness."""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import API_PREFIX, Settings
from app.core.database import Database, utcnow
from app.core.jobs import JobRegistry, JobState, counting_enqueued, enqueue
from app.core.metrics import Metrics
from app.main import create_app
from tests.support.app import running
from tests.support.jobs import Note, Recorder, all_jobs, enqueue_router, job_of, recording_type, set_job, working
from tests.support.otlp import OtlpReceiver, attributes
from tests.support.polling import eventually
from tests.support.processes import free_port
from tests.support.prometheus import sample
from tests.support.settings import BASE_URL, make_settings

pytestmark = pytest.mark.settings(jobs_poll_seconds=0.02, jobs_run_in_server=True)


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


async def test_jobs_are_counted_enqueued_when_their_transaction_commits(
    settings: Settings, engine: AsyncEngine, database: Database
) -> None:
    note = recording_type(Recorder(), name="test.enqueued")
    app = create_app(settings, jobs=JobRegistry([note]))
    app.include_router(enqueue_router(note), prefix=API_PREFIX)
    async with (
        running(app) as started,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as client,
    ):
        for fail in ("false", "true", "false"):  # the failed request's transaction rolls its job back
            await client.post(f"{API_PREFIX}/test-jobs", params={"text": "x", "fail": fail})
        text = (await client.get("/metrics")).text
    assert sample(text, "jobs_enqueued_total", type="test.enqueued") == 2
    assert len(await all_jobs(database)) == 2


async def test_a_session_counts_only_the_transactions_that_committed(settings: Settings, database: Database) -> None:
    counted: list[Mapping[str, int]] = []
    counting = Database(settings, session_info=counting_enqueued(counted.append))
    note = recording_type(Recorder(), name="test.counted")
    try:
        async with counting.session(writes=True) as session:
            async with session.begin():
                await enqueue(session, note, Note())
                await enqueue(session, note, Note())
            await session.begin()
            await enqueue(session, note, Note())
            await session.rollback()
            async with session.begin():
                await enqueue(session, note, Note())
    finally:
        await counting.dispose()
    assert counted == [{"test.counted": 2}, {"test.counted": 1}]
    assert len(await all_jobs(database)) == 3


async def test_expired_leases_are_counted_and_a_last_attempt_counts_dead(
    settings: Settings, engine: AsyncEngine, database: Database
) -> None:
    note = recording_type(Recorder(), name="test.abandoned", max_attempts=2)
    async with database.session(writes=True) as session, session.begin():
        retried = (await enqueue(session, note, Note())).id
        last = (await enqueue(session, note, Note())).id
    expired = {"state": JobState.RUNNING, "worker": "gone", "lease_until": utcnow() - timedelta(seconds=1)}
    await set_job(database, retried, attempts=1, **expired)
    await set_job(database, last, attempts=2, **expired)

    async with (
        running(create_app(settings, jobs=JobRegistry([note]))) as started,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as client,
    ):
        await eventually(lambda: _succeeded(database, retried))
        text = (await client.get("/metrics")).text
    assert sample(text, "job_leases_expired_total", type="test.abandoned") == 2
    assert sample(text, "jobs_total", type="test.abandoned", outcome="dead") == 1
    assert (await job_of(database, last)).state == JobState.DEAD
    assert sample(text, "job_workers_ready") == 1


async def _succeeded(database: Database, job_id: int) -> bool:
    return (await job_of(database, job_id)).state == JobState.SUCCEEDED


async def test_a_worker_is_ready_while_it_reaches_the_queue(database: Database) -> None:
    metrics = Metrics(api_prefix=API_PREFIX)
    async with working(database, [], reap_seconds=0.02, metrics=metrics.jobs) as worker:
        await eventually(lambda: worker.ready)
        assert sample(metrics.render({}).decode(), "job_workers_ready") == 1
    assert not worker.ready
    assert sample(metrics.render({}).decode(), "job_workers_ready") == 0


async def test_a_worker_that_cannot_reach_the_queue_is_not_ready() -> None:
    metrics = Metrics(api_prefix=API_PREFIX)
    unreachable = Database(make_settings(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none"))
    try:
        async with working(unreachable, [], reap_seconds=0.02, metrics=metrics.jobs) as worker:
            await eventually(lambda: sample(metrics.render({}).decode(), "job_workers_ready") == 0)
            assert not worker.ready
    finally:
        await unreachable.dispose()


@pytest.mark.parametrize("prometheus", [True, False], ids=["with-prometheus", "otlp-only"])
async def test_job_metrics_are_exported_over_otlp(
    database_url: str, engine: AsyncEngine, database: Database, otlp: OtlpReceiver, *, prometheus: bool
) -> None:
    settings = make_settings(
        database_url, otel_exporter="otlp", metrics_enabled=prometheus, jobs_run_in_server=True, jobs_poll_seconds=0.02
    )
    note = recording_type(Recorder(), name="test.exported")
    app = create_app(settings, jobs=JobRegistry([note]))
    app.include_router(enqueue_router(note), prefix=API_PREFIX)
    async with (
        running(app) as started,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as client,
    ):
        assert (await client.post(f"{API_PREFIX}/test-jobs", params={"text": "x"})).status_code == 201
        await eventually(lambda: _all_in(database, JobState.SUCCEEDED))
        telemetry = started.context.telemetry
        assert telemetry is not None
        assert telemetry.meter_provider is not None

        def exported_success() -> bool:
            """The success is counted once its row committed (the recorder's group commit): export until it is."""
            assert telemetry.meter_provider is not None
            assert telemetry.meter_provider.force_flush()
            return ("test.exported", "succeeded") in _points(list(otlp.metrics), "jobs.attempts")

        await eventually(exported_success)
        exported = list(otlp.metrics)  # as the worker runs (the shutdown's export says it stopped)

    def points(name: str) -> dict[tuple[str, ...], float]:
        return _points(exported, name)

    assert points("jobs.enqueued") == {("test.exported",): 1}
    assert points("jobs.attempts") == {("test.exported", "started"): 1, ("test.exported", "succeeded"): 1}
    [delays] = [metric for metric in exported if metric.name == "jobs.start_delay"][-1:]
    assert [p.count for p in delays.histogram.data_points] == [1]
    assert points("jobs.workers_ready") == {(): 1}
    assert set(points("jobs.due")) == {()}


async def _all_in(database: Database, state: JobState) -> bool:
    jobs = await all_jobs(database)
    return bool(jobs) and all(job.state == state for job in jobs)


def _points(exported: list[Any], name: str) -> dict[tuple[str, ...], float]:
    """The data points of the last export of metric `name`, by their attributes' values."""
    found_metric = [metric for metric in exported if metric.name == name][-1:]
    if not found_metric:
        return {}
    [metric] = found_metric
    found = metric.sum.data_points if metric.WhichOneof("data") == "sum" else metric.gauge.data_points
    return {tuple(str(v) for v in attributes(p).values()): p.as_int or p.as_double for p in found}
