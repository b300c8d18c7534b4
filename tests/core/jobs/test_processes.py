"""Two worker processes on one queue: every job runs exactly once when handlers succeed (counted), and every job
still completes when one of the processes is SIGKILLed mid-run (its leases expire, the other takes them over)."""

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.config import Settings
from app.core.database import Database
from app.core.jobs import JobState, enqueue
from tests.support import processes
from tests.support.job_processes import (
    COUNTED,
    Counted,
    WorkerProcess,
    create_run_table,
    drop_run_table,
    runs_by_job,
    worker_process,
)
from tests.support.jobs import all_jobs
from tests.support.polling import eventually

pytestmark = processes.HEAVY

JOBS = 300


@pytest.fixture
async def runs_table(database: Database) -> AsyncIterator[None]:
    await create_run_table(database)
    yield
    await drop_run_table(database)


async def _enqueue_once_both_are_ready(database: Database, *workers: WorkerProcess) -> list[int]:
    """Jobs enqueued after both workers started, so that neither takes them all while the other imports."""
    await eventually(lambda: all(worker.ready for worker in workers), seconds=120)
    assert all(worker.process.poll() is None for worker in workers)
    async with database.session(writes=True) as session, session.begin():
        return [(await enqueue(session, COUNTED, Counted(n=n))).id for n in range(JOBS)]


async def _all_succeeded(database: Database) -> bool:
    return {job.state for job in await all_jobs(database)} == {JobState.SUCCEEDED}


async def _ran_some(database: Database, pid: int) -> bool:
    return sum(pids.count(pid) for pids in (await runs_by_job(database)).values()) >= 10


@pytest.mark.usefixtures("runs_table")
async def test_two_worker_processes_run_every_job_exactly_once(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    url = settings.database_url
    with worker_process(url, tmp_path / "first.log") as first, worker_process(url, tmp_path / "second.log") as second:
        job_ids = await _enqueue_once_both_are_ready(database, first, second)
        await eventually(lambda: _all_succeeded(database), seconds=120)
    assert (first.process.returncode, second.process.returncode) == (0, 0)  # SIGTERM: a clean stop
    runs = await runs_by_job(database)
    assert sorted(runs) == job_ids
    assert {job_id: len(pids) for job_id, pids in runs.items()} == dict.fromkeys(job_ids, 1)
    assert {pid for pids in runs.values() for pid in pids} == {first.process.pid, second.process.pid}  # both worked


@pytest.mark.usefixtures("runs_table")
async def test_every_job_completes_when_a_worker_process_is_killed_mid_run(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    url = settings.database_url
    with worker_process(url, tmp_path / "victim.log") as victim, worker_process(url, tmp_path / "other.log") as other:
        job_ids = await _enqueue_once_both_are_ready(database, victim, other)
        await eventually(lambda: _ran_some(database, victim.process.pid), seconds=120)
        victim.process.send_signal(signal.SIGKILL)
        await eventually(lambda: _all_succeeded(database), seconds=120)
    assert victim.process.returncode == -signal.SIGKILL
    assert other.process.returncode == 0
    # At least once each: a job the victim was running (or had run but not yet recorded) ran again.
    assert sorted(await runs_by_job(database)) == job_ids
