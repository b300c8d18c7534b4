"""`forge serve` whose app has a test job type and a route that enqueues it, for tests that kill a real server.

`python -m tests.support.served_jobs serve --server uvicorn ...` (any `forge` arguments) lists `SERVED` in the
app's job types, as a project does in `app/jobs.py`'s `job_types()`, but without editing the file: the declaration
is replaced before `app.main` is imported, so the app that `forge serve` runs (and its embedded worker) is built
with it; then `POST /api/v1/test-jobs?text=` (tests/support/jobs.py) is added to that app. This needs the app to be
served in this process: uvicorn with one worker does so (granian's workers, and uvicorn's when there are several,
import the app afresh in processes of their own).
"""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import app.jobs
from app.config import API_PREFIX
from app.core.jobs import JobContext, JobType
from tests.support.jobs import NO_WAIT, Note, enqueue_router
from tests.support.settings import TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEY

__all__ = ["SERVED", "served"]

REPO = Path(__file__).resolve().parents[2]


async def _nothing(_payload: Note, _context: JobContext) -> None:
    """The job's run is what the test looks for: the worker records it as succeeded."""


SERVED = JobType(name="test.served", payload=Note, handler=_nothing, max_attempts=1, backoff=NO_WAIT)


def _job_types() -> tuple[JobType[Any], ...]:
    return (SERVED,)


@contextmanager
def served(database_url: str, port: int, log: Path, *, poll_seconds: float) -> Iterator[subprocess.Popen[bytes]]:
    """This module's `forge serve` on `port`, its embedded worker polling every `poll_seconds` (SQLite has no
    LISTEN/NOTIFY: nothing else wakes it), writing to `log`; SIGTERMed (if still alive) when the block ends."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("FORGE_")} | {
        "FORGE_DATABASE_URL": database_url,
        "FORGE_SERVER": "uvicorn",
        "FORGE_WORKERS": "1",
        "FORGE_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        "FORGE_BLIND_INDEX_KEY": TEST_BLIND_INDEX_KEY,
        "FORGE_JOBS_POLL_SECONDS": str(poll_seconds),
        "FORGE_EVENTS_RETENTION_DAYS": "0",  # no built-in hourly tick to wake the worker
        "FORGE_METRICS_ENABLED": "false",  # no metrics directory for a killed server to leave behind
    }
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 - this module, run by this interpreter
            [sys.executable, "-m", "tests.support.served_jobs", "serve", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def main() -> None:
    app.jobs.job_types = _job_types
    from app.cli import main as forge  # noqa: PLC0415 - after the job types are replaced
    from app.main import app as served  # noqa: PLC0415

    served.include_router(enqueue_router(SERVED), prefix=API_PREFIX)
    sys.argv[0] = "forge"
    forge()


if __name__ == "__main__":
    main()
