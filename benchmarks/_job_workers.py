"""The worker processes of `benchmarks.jobs`: one no-op job type on each queue, recording every run.

`python -m benchmarks._job_workers {forge,procrastinate,pgqueuer} DATABASE_URL RECORDS [--short-lease]` runs a
worker until SIGTERM; `embedded_app` is the app factory whose lifespan runs ForgeAPI's embedded worker (as
`forge serve` runs it). Each run of a job appends `key start_ns end_ns` to `RECORDS.<pid>` with one unbuffered
`write`, so that a SIGKILLed worker's runs are counted up to its last one.

Every worker runs 10 jobs at once (FORGE_JOBS_CONCURRENCY's default; procrastinate's `concurrency=10`; pgqueuer
claims batches of 10, its default) and otherwise keeps its library's defaults, logging included: ForgeAPI's worker
writes its JSON line per job (to a file), as it does in production.
"""

import argparse
import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from pydantic import BaseModel

from app.config import Settings
from app.core.database import Database
from app.core.jobs import JobContext, JobRegistry, JobType, Worker, configured_worker
from app.core.logging import configure_logging

__all__ = ["CONCURRENCY", "JOB_NAME", "RECORDS_ENV", "BenchJob", "Records", "embedded_app", "forge_job_type"]

JOB_NAME = "bench.noop"
CONCURRENCY = 10
RECORDS_ENV = "FORGE_BENCH_JOB_RECORDS"
NOOP_TIMEOUT_SECONDS = 5.0  # a no-op never nears it; with --short-lease it makes a 6 s lease


class BenchJob(BaseModel):
    key: int


class Records:
    """Appends one line per run to a file of this process's own."""

    def __init__(self, prefix: str) -> None:
        self._fd = os.open(f"{prefix}.{os.getpid()}", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def ran(self, key: int, started_ns: int) -> None:
        os.write(self._fd, f"{key} {started_ns} {time.time_ns()}\n".encode())


def forge_job_type(records: Records | None) -> JobType[BenchJob]:
    """The no-op job type; without `records` (the enqueuer's copy), its handler is never run."""

    async def noop(payload: BenchJob, _context: JobContext) -> None:
        if records is not None:
            records.ran(payload.key, time.time_ns())

    return JobType(name=JOB_NAME, payload=BenchJob, handler=noop, timeout_seconds=NOOP_TIMEOUT_SECONDS)


def embedded_app() -> FastAPI:
    """The app with the no-op job type, its settings from the environment: the embedded worker runs in its lifespan."""
    from app.main import create_app  # noqa: PLC0415 - only the embedded run needs the whole app

    return create_app(Settings(), jobs=JobRegistry([forge_job_type(Records(os.environ[RECORDS_ENV]))]))


async def _until_signalled(start: Callable[[], Awaitable[None]], stop: Callable[[], object]) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)
    await start()


async def _forge(url: str, records: Records, *, short_lease: bool) -> None:
    """As `forge worker` runs (configured_worker, the settings' defaults); --short-lease: a lease of 6 s, reaped
    every 0.5 s, so that a SIGKILLed worker's jobs are taken over within seconds."""
    settings = Settings(_env_file=None, database_url=url)
    configure_logging(settings)
    database = Database(settings)
    registry = JobRegistry([forge_job_type(records)])
    if short_lease:
        worker = Worker(
            database=database,
            registry=registry,
            concurrency=settings.jobs_concurrency,
            poll_seconds=settings.jobs_poll_seconds,
            reap_seconds=0.5,
            lease_grace_seconds=1.0,
            listen_url=url,
        )
    else:
        worker = configured_worker(settings, database, registry)
    stopping = asyncio.Event()

    async def run() -> None:
        worker.start()
        await stopping.wait()
        await worker.stop()

    try:
        await _until_signalled(run, stopping.set)
    finally:
        await database.dispose()


async def _procrastinate(url: str, records: Records) -> None:
    import procrastinate  # noqa: PLC0415 - each library is imported only by its own worker

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=_libpq(url)))

    @app.task(name=JOB_NAME)
    async def noop(key: int) -> None:
        records.ran(key, time.time_ns())

    async with app.open_async():
        # procrastinate installs its own SIGTERM/SIGINT handlers and stops gracefully on them.
        await app.run_worker_async(concurrency=CONCURRENCY)


async def _pgqueuer(url: str, records: Records) -> None:
    import asyncpg  # noqa: PLC0415
    from pgqueuer import Job, PgQueuer  # noqa: PLC0415

    connection = await asyncpg.connect(_libpq(url))
    pgq = PgQueuer.from_asyncpg_connection(connection)

    @pgq.entrypoint(JOB_NAME)
    async def noop(job: Job) -> None:
        records.ran(int(job.payload or b"0"), time.time_ns())

    try:
        await _until_signalled(lambda: pgq.run(batch_size=CONCURRENCY), pgq.shutdown.set)
    finally:
        await connection.close()


def _libpq(url: str) -> str:
    """postgresql+asyncpg://... as the libpq URL the libraries take."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("system", choices=["forge", "procrastinate", "pgqueuer"])
    parser.add_argument("database_url")
    parser.add_argument("records", help="path prefix of the run records (.<pid> is appended)")
    parser.add_argument("--short-lease", action="store_true", help="ForgeAPI: a 6 s lease, reaped every 0.5 s")
    args = parser.parse_args()
    records = Records(args.records)
    if args.system == "forge":
        asyncio.run(_forge(args.database_url, records, short_lease=args.short_lease))
    elif args.system == "procrastinate":
        asyncio.run(_procrastinate(args.database_url, records))
    else:
        asyncio.run(_pgqueuer(args.database_url, records))


if __name__ == "__main__":
    main()
