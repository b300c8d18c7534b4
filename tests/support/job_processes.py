"""Job workers in processes of their own, for tests that count runs across processes and kill one of them.

`python -m tests.support.job_processes DATABASE_URL` runs a worker of `COUNTED` until SIGTERM. Each run of a job
inserts a row (job id, process id) into `job_run` in a transaction of its own before the attempt is recorded, so a
job run twice shows twice.
"""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import text

from app.core.database import Database
from app.core.jobs import JobContext, JobRegistry, Worker, job_type
from tests.support.settings import make_settings

__all__ = [
    "COUNTED",
    "Counted",
    "WorkerProcess",
    "create_run_table",
    "drop_run_table",
    "runs_by_job",
    "worker_process",
]

REPO = Path(__file__).resolve().parents[2]


class Counted(BaseModel):
    n: int


@job_type(name="test.counted", payload=Counted, timeout_seconds=5, max_attempts=5)
async def COUNTED(payload: Counted, context: JobContext) -> None:  # noqa: N802 - a job type, named as a constant
    await asyncio.sleep(0.005)  # long enough for a SIGKILL to land mid-job now and then
    async with context.database.session(writes=True) as session, session.begin():
        await session.execute(
            text("INSERT INTO job_run (job_id, pid, n) VALUES (:job_id, :pid, :n)"),
            {"job_id": context.job_id, "pid": os.getpid(), "n": payload.n},
        )


async def create_run_table(database: Database) -> None:
    async with database.session(writes=True) as session, session.begin():
        await session.execute(text("DROP TABLE IF EXISTS job_run"))
        await session.execute(text("CREATE TABLE job_run (job_id INTEGER NOT NULL, pid INTEGER NOT NULL, n INTEGER)"))


async def drop_run_table(database: Database) -> None:
    async with database.session(writes=True) as session, session.begin():
        await session.execute(text("DROP TABLE job_run"))


async def runs_by_job(database: Database) -> dict[int, list[int]]:
    """Each job id's runs, as the process ids that ran it."""
    async with database.session(writes=False) as session:
        rows = (await session.execute(text("SELECT job_id, pid FROM job_run ORDER BY job_id"))).all()
    runs: dict[int, list[int]] = {}
    for job_id, pid in rows:
        runs.setdefault(job_id, []).append(pid)
    return runs


@dataclass(frozen=True, slots=True)
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path  # its output: a file, not a pipe, which a chatty worker would fill and block on

    @property
    def ready(self) -> bool:
        """Whether its worker has started (it logs so), or the process has ended."""
        return self.process.poll() is not None or "job_worker_started" in self.log.read_text(errors="replace")


@contextmanager
def worker_process(database_url: str, log: Path) -> Iterator[WorkerProcess]:
    """A worker process writing to `log`; SIGTERMed (if still alive) when the block ends."""
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - this module, run by this interpreter
            [sys.executable, "-m", "tests.support.job_processes", database_url],
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield WorkerProcess(process, log)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


async def _work(database_url: str) -> None:
    database = Database(make_settings(database_url))
    worker = Worker(
        database=database,
        registry=JobRegistry([COUNTED]),
        concurrency=8,
        poll_seconds=0.05,
        reap_seconds=0.5,
        lease_grace_seconds=1.0,
        listen_url=None if database_url.startswith("sqlite") else database_url,
    )
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    worker.start()
    await stopping.wait()
    await worker.stop()
    await database.dispose()


if __name__ == "__main__":
    asyncio.run(_work(sys.argv[1]))
