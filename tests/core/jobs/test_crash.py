"""A process SIGKILLed right after the transaction that enqueued a job committed: the job still runs, whether the
process was a bare one or a real `forge serve` whose request enqueued it."""

import signal
import subprocess
import sys
from pathlib import Path

import httpx

from app.config import API_PREFIX, Settings
from app.core.database import Database
from app.core.jobs import JobState
from tests.support import processes
from tests.support.jobs import Note, Recorder, job_of, recording_type, working
from tests.support.polling import eventually
from tests.support.served_jobs import SERVED, served
from tests.support.settings import make_settings

REPO = Path(__file__).resolve().parents[3]

# Enqueues in a transaction, commits, and kills itself before doing anything else: no clean-up, no shutdown.
_ENQUEUE_THEN_DIE = """
import asyncio, os, signal, sys

from app.core.database import Database
from app.core.jobs import enqueue
from tests.support.jobs import Note, Recorder, recording_type
from tests.support.settings import make_settings


async def main() -> None:
    database = Database(make_settings(sys.argv[1]))
    async with database.session(writes=True) as session, session.begin():
        await enqueue(session, recording_type(Recorder()), Note(text="survives"))
    os.kill(os.getpid(), signal.SIGKILL)


asyncio.run(main())
"""


async def test_a_job_committed_by_a_killed_process_runs_after_restart(database: Database, settings: Settings) -> None:
    died = subprocess.run(  # noqa: ASYNC221, S603 - the test waits for the process on purpose
        [sys.executable, "-c", _ENQUEUE_THEN_DIE, settings.database_url], cwd=REPO, capture_output=True, check=False
    )
    assert died.returncode == -signal.SIGKILL, died.stderr.decode()
    recorder = Recorder()
    async with working(database, [recording_type(recorder)]):
        await eventually(lambda: len(recorder.runs) == 1)
    assert recorder.payloads == [Note(text="survives")]


@processes.HEAVY
async def test_a_job_committed_by_a_request_runs_after_the_server_is_killed_and_restarted(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'served.db'}"  # the embedded default (PostgreSQL would wake the worker)
    port, log = processes.free_port(), tmp_path / "served.log"
    # The first server's worker polls once a minute: it has made its first round (job_worker_ready) before the
    # request, and nothing wakes it before the SIGKILL, so the job can only run in the restarted server.
    with served(url, port, log, poll_seconds=60) as first:
        await eventually(lambda: _logged(log, "job_worker_ready", first), seconds=120)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            answer = await http.post(f"{API_PREFIX}/test-jobs", params={"text": "survives"})
        first.kill()  # SIGKILL, as soon as the request's transaction has committed and been answered
        first.wait(timeout=30)
    assert answer.status_code == 201, answer.text
    assert first.returncode == -signal.SIGKILL
    job_id = answer.json()["id"]
    database = Database(make_settings(url))
    try:
        waiting = await job_of(database, job_id)
        assert (waiting.type, waiting.state, waiting.attempts) == (SERVED.name, JobState.QUEUED, 0)
        with served(url, port, log, poll_seconds=0.05) as restarted:
            await eventually(lambda: _succeeded_or_exited(database, job_id, restarted), seconds=120)
        ran = await job_of(database, job_id)
    finally:
        await database.dispose()
    assert (ran.state, ran.attempts, ran.payload) == (JobState.SUCCEEDED, 1, {"text": "survives"})


def _logged(log: Path, event: str, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, log.read_text(errors="replace")
    return event in log.read_text(errors="replace")


async def _succeeded_or_exited(database: Database, job_id: int, process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is not None or (await job_of(database, job_id)).state == JobState.SUCCEEDED
