"""A process SIGKILLed right after the transaction that enqueued a job committed: the job still runs."""

import signal
import subprocess
import sys
from pathlib import Path

from app.config import Settings
from app.core.database import Database
from tests.support.jobs import Note, Recorder, recording_type, working
from tests.support.polling import eventually

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
