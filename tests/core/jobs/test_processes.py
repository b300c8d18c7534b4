"""Two worker processes on one queue: every job runs exactly once when handlers succeed (counted), and every job
still completes when one of the processes is SIGKILLed mid-run (its leases expire, the other takes them over)."""

import signal
from collections.abc import AsyncIterator

import pytest

from app.config import Settings
from app.core.database import Database
from app.core.jobs import JobState, enqueue
from tests.support import processes
from tests.support.job_processes import (
    COUNTED,
    Counted,
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
async def job_ids(database: Database) -> AsyncIterator[list[int]]:
    await create_run_table(database)
    async with database.session(writes=True) as session, session.begin():
        ids = [(await enqueue(session, COUNTED, Counted(n=n))).id for n in range(JOBS)]
    yield ids
    await drop_run_table(database)


async def _all_succeeded(database: Database) -> bool:
    return {job.state for job in await all_jobs(database)} == {JobState.SUCCEEDED}


async def _runs_at_least(database: Database, count: int) -> bool:
    return sum(len(pids) for pids in (await runs_by_job(database)).values()) >= count


async def test_two_worker_processes_run_every_job_exactly_once(
    database: Database, settings: Settings, job_ids: list[int]
) -> None:
    with worker_process(settings.database_url) as first, worker_process(settings.database_url) as second:
        await eventually(lambda: _all_succeeded(database), seconds=120)
    assert (first.returncode, second.returncode) == (0, 0)  # SIGTERM: a clean stop
    runs = await runs_by_job(database)
    assert sorted(runs) == job_ids
    assert {job_id: len(pids) for job_id, pids in runs.items()} == dict.fromkeys(job_ids, 1)
    assert {pid for pids in runs.values() for pid in pids} == {first.pid, second.pid}  # both took part


async def test_every_job_completes_when_a_worker_process_is_killed_mid_run(
    database: Database, settings: Settings, job_ids: list[int]
) -> None:
    with worker_process(settings.database_url) as victim, worker_process(settings.database_url) as survivor:
        await eventually(lambda: _runs_at_least(database, JOBS // 5), seconds=120)
        victim.send_signal(signal.SIGKILL)
        await eventually(lambda: _all_succeeded(database), seconds=120)
    assert victim.returncode == -signal.SIGKILL
    assert survivor.returncode == 0
    runs = await runs_by_job(database)
    assert sorted(runs) == job_ids  # at least once each: a job the victim ran but had not recorded runs again
    assert victim.pid in {pid for pids in runs.values() for pid in pids}  # killed while it was working
