"""`forge jobs list/retry/cancel`, run in-process with Typer's runner, and `forge worker` as a real process (with
its metrics port)."""

import asyncio
import os
import signal
import socket
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.cli import app as cli
from app.core.database import Database, utcnow
from app.core.jobs import JobState, enqueue
from tests.support import processes
from tests.support.cli import migrated_sqlite, runner
from tests.support.jobs import Note, Recorder, job_of, recording_type, set_job
from tests.support.otlp import OtlpReceiver, attributes
from tests.support.polling import eventually, until_status
from tests.support.prometheus import sample
from tests.support.settings import make_settings

TOKEN = "a-metrics-token-for-the-worker-process"


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return migrated_sqlite(tmp_path, monkeypatch)


async def _added_job(url: str, **state: Any) -> int:
    database = Database(make_settings(url))
    try:
        async with database.session(writes=True) as session, session.begin():
            job_id = (await enqueue(session, recording_type(Recorder()), Note(text="cli"))).id
        if state:
            await set_job(database, job_id, **state)
        return job_id
    finally:
        await database.dispose()


async def _state_of(url: str, job_id: int) -> str:
    database = Database(make_settings(url))
    try:
        return (await job_of(database, job_id)).state
    finally:
        await database.dispose()


def _add_job(url: str, **state: Any) -> int:
    return asyncio.run(_added_job(url, **state))


def _state(url: str, job_id: int) -> str:
    return asyncio.run(_state_of(url, job_id))


def test_jobs_list_retry_and_cancel(sqlite_url: str) -> None:
    queued = _add_job(sqlite_url)
    dead = _add_job(sqlite_url, state=JobState.DEAD, attempts=3, last_error="RuntimeError: boom\nsecond line")

    listed = runner.invoke(cli, ["jobs", "list"])
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert [line.split("\t")[:3] for line in lines] == [
        [str(dead), "test.note", "dead"],
        [str(queued), "test.note", "queued"],
    ]
    assert lines[0].split("\t")[3] == "attempt 3/3"
    assert lines[0].endswith("\tRuntimeError: boom")
    only_dead = runner.invoke(cli, ["jobs", "list", "--state", "dead"])
    assert [line.split("\t")[0] for line in only_dead.stdout.splitlines()] == [str(dead)]

    retried = runner.invoke(cli, ["jobs", "retry", str(dead)])
    assert retried.exit_code == 0, retried.output
    assert retried.stdout.split("\t")[2] == "queued"
    assert _state(sqlite_url, dead) == JobState.QUEUED
    refused = runner.invoke(cli, ["jobs", "retry", str(dead)])
    assert refused.exit_code == 1
    assert "only dead or cancelled jobs can be retried" in refused.stderr

    cancelled = runner.invoke(cli, ["jobs", "cancel", str(queued)])
    assert cancelled.exit_code == 0, cancelled.output
    assert _state(sqlite_url, queued) == JobState.CANCELLED
    missing = runner.invoke(cli, ["jobs", "cancel", "999"])
    assert missing.exit_code == 1
    assert "Job 999 not found." in missing.stderr


@processes.HEAVY
async def test_forge_worker_reaps_expired_leases_serves_its_metrics_and_stops_on_sigterm(
    sqlite_url: str, tmp_path: Path, otlp: OtlpReceiver
) -> None:
    # The app has no job types of its own: the worker still reaps what dead workers left.
    job_id = await _added_job(
        sqlite_url, state=JobState.RUNNING, attempts=3, worker="gone", lease_until=utcnow() - timedelta(seconds=1)
    )
    port = processes.free_port()
    worker = subprocess.Popen(  # noqa: ASYNC220, S603 - our own console script
        [str(processes.FORGE), "worker", "--metrics-port", str(port)],
        cwd=tmp_path,
        env={**os.environ, "FORGE_METRICS_TOKEN": TOKEN, "FORGE_OTEL_EXPORTER": "otlp"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await eventually(lambda: _dead_or_exited(sqlite_url, job_id, worker), seconds=60)
        assert await _state_of(sqlite_url, job_id) == JobState.DEAD
        async with httpx.AsyncClient(base_url=base) as http:
            await until_status(http, "/readyz", 200, seconds=60)
            assert (await http.get("/metrics")).status_code == 401
            scraped = (await http.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})).text
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, output
    assert sample(scraped, "job_leases_expired_total", type="test.note") == 1
    assert sample(scraped, "jobs_total", type="test.note", outcome="dead") == 1
    assert sample(scraped, "job_workers_ready") == 1
    for line in ("job_worker_endpoint", "job_worker_started", "job_worker_ready", "job_worker_stopped"):
        assert line in output
    # The same over OTLP, exported (at the latest) as the worker stopped.
    [expired] = otlp.metric("jobs.leases_expired")[-1:]
    assert [(attributes(p)["job.type"], p.as_int) for p in expired.sum.data_points] == [("test.note", 1)]
    [attempts] = otlp.metric("jobs.attempts")[-1:]
    assert {(attributes(p)["job.outcome"], p.as_int) for p in attempts.sum.data_points} == {("dead", 1)}


async def _dead_or_exited(url: str, job_id: int, process: subprocess.Popen[str]) -> bool:
    return process.poll() is not None or await _state_of(url, job_id) == JobState.DEAD


def test_forge_worker_refuses_a_metrics_port_in_use(sqlite_url: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = runner.invoke(cli, ["worker", "--metrics-port", str(port)])
    assert result.exit_code == 2, result.output
    assert f"Configuration error: FORGE_JOBS_METRICS_PORT: cannot listen on 127.0.0.1:{port}" in result.stderr
