"""The three queues as `benchmarks.jobs` drives them: a database made ready, jobs enqueued, workers started.

Every queue enqueues a burst in one transaction (ForgeAPI through `enqueue`, one INSERT per job, as its API does
inside a request's transaction; procrastinate's `batch_defer_async` and pgqueuer's list `enqueue`, one multi-row
INSERT each) and a paced job in a transaction of its own. Each PostgreSQL queue has a database of its own on the
same server; the embedded worker, a SQLite file.
"""

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
from sqlalchemy import delete, func, select
from sqlalchemy.engine import make_url

from app.config import Settings
from app.core.database import Database
from app.core.jobs import Job, JobState, enqueue
from benchmarks._job_runs import WARM_UP_KEYS, lines_written, until
from benchmarks._job_workers import JOB_NAME, RECORDS_ENV, BenchJob, forge_job_type

if TYPE_CHECKING:
    from procrastinate.types import JSONValue

__all__ = ["ForgeAPIPostgres", "ForgeAPISQLite", "PgQueuer", "Procrastinate", "Queue", "libpq", "recreate_database"]

ROOT = Path(__file__).resolve().parent.parent
_NOOP = forge_job_type(None)


def libpq(url: str) -> str:
    """A SQLAlchemy URL (postgresql+asyncpg://...) as the libpq URL that asyncpg and psycopg take."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def recreate_database(url: str) -> None:
    name = make_url(url).database
    if not name or not name.replace("_", "").isalnum():
        raise SystemExit(f"unexpected benchmark database name {name!r}")
    admin = await asyncpg.connect(libpq(make_url(url).set(database="postgres").render_as_string(False)))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def _environment(extra: dict[str, str]) -> dict[str, str]:
    """The shell's environment without its FORGE_* (only the benchmark's settings), the project importable."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("FORGE_")}
    search_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**inherited, "PYTHONPATH": search_path, "FORGE_LOG_LEVEL": "INFO", "FORGE_LOG_FORMAT": "json", **extra}


class Queue(ABC):
    """One queue system on its own database."""

    label: str
    url: str

    async def prepare(self) -> None:
        """An empty database with the queue's schema."""
        await recreate_database(self.url)
        await self._install()

    @abstractmethod
    async def _install(self) -> None: ...

    async def open(self) -> None:
        self._admin = await asyncpg.connect(libpq(self.url))

    async def close(self) -> None:
        await self._admin.close()

    async def empty(self) -> None:
        """Every table emptied (a fresh queue for each round), but the audit trail: append-only, it refuses TRUNCATE,
        and no job writes it."""
        tables = await self._admin.fetch(
            "SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename NOT IN ('alembic_version', 'audit_entry')"
        )
        await self._admin.execute(f"TRUNCATE {', '.join(row['name'] for row in tables)} RESTART IDENTITY CASCADE")

    @abstractmethod
    async def enqueue_burst(self, keys: range) -> None: ...

    @abstractmethod
    async def enqueue_one(self, key: int) -> int:
        """Enqueue one job in a transaction of its own; returns when it began to commit (ns): just before COMMIT is
        sent, or, for a library's one autocommitted statement, just before that is sent."""

    @abstractmethod
    async def succeeded(self) -> int:
        """Jobs the queue has recorded as succeeded."""

    @abstractmethod
    def command(self, records: str) -> list[str]: ...

    async def warm_up(self, records: str, pids: list[int]) -> int:
        """Jobs enqueued one at a time until each worker process has run one: every worker is up, connected and
        past its first jobs. Returns how many were enqueued (keys from WARM_UP_KEYS)."""
        enqueued = 0
        deadline = time.monotonic() + 120
        while not all(lines_written(records).get(pid) for pid in pids):
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.label}: not every worker ran a job within 120 s")
            await self.enqueue_one(WARM_UP_KEYS + enqueued)
            enqueued += 1
            await asyncio.sleep(0.02)
        await until(lambda: self._recorded(enqueued), 120, f"{self.label}: the warm-up jobs were not recorded")
        return enqueued

    async def _recorded(self, jobs: int) -> bool:
        return await self.succeeded() >= jobs

    async def backend_pids(self) -> list[int]:
        """The PostgreSQL server processes serving this database (but the benchmark's own connection)."""
        rows = await self._admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row["pid"] for row in rows]

    @contextmanager
    def workers(self, processes: int, records: str, log: Path, extra: tuple[str, ...] = ()) -> Iterator[list[int]]:
        """`processes` worker processes (their pids), SIGTERMed when the block ends."""
        started: list[subprocess.Popen[bytes]] = []
        with tempfile.TemporaryDirectory(prefix="bench-jobs-") as workdir, log.open("ab") as output:
            try:
                for _ in range(processes):
                    started.append(
                        subprocess.Popen(
                            [*self.command(records), *extra],
                            env=_environment(self._env(records)),
                            cwd=workdir,  # no .env read, no key file written in the project
                            stdout=output,
                            stderr=subprocess.STDOUT,
                        )
                    )
                yield [process.pid for process in started]
            finally:
                for process in started:
                    if process.poll() is None:
                        process.terminate()
                for process in started:
                    try:
                        process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()

    def _env(self, _records: str) -> dict[str, str]:
        return {}


class ForgeAPIPostgres(Queue):
    label = "ForgeAPI, forge worker"

    def __init__(self, url: str) -> None:
        self.url = url

    async def _install(self) -> None:
        forge = str(Path(sys.executable).with_name("forge"))
        env = _environment({"FORGE_DATABASE_URL": self.url})
        await asyncio.to_thread(subprocess.run, [forge, "db", "upgrade"], env=env, check=True, capture_output=True)

    async def open(self) -> None:
        await super().open()
        self._database = Database(Settings(_env_file=None, database_url=self.url))

    async def close(self) -> None:
        await self._database.dispose()
        await super().close()

    async def enqueue_burst(self, keys: range) -> None:
        async with self._database.session(writes=True) as session, session.begin():
            for key in keys:
                await enqueue(session, _NOOP, BenchJob(key=key))

    async def enqueue_one(self, key: int) -> int:
        async with self._database.session(writes=True) as session, session.begin():
            await enqueue(session, _NOOP, BenchJob(key=key))
            return time.time_ns()  # then the block's end commits

    async def succeeded(self) -> int:
        async with self._database.session(writes=False) as session:
            statement = select(func.count()).select_from(Job).where(Job.state == JobState.SUCCEEDED)
            return int((await session.execute(statement)).scalar_one())

    def command(self, records: str) -> list[str]:
        return [sys.executable, "-m", "benchmarks._job_workers", "forge", self.url, records]


class ForgeAPISQLite(ForgeAPIPostgres):
    """The embedded worker: the app's lifespan under uvicorn, as `forge serve` runs it, on a SQLite file."""

    label = "ForgeAPI, embedded (SQLite)"

    def __init__(self, path: Path, port: int) -> None:
        super().__init__(f"sqlite+aiosqlite:///{path}")
        self._path = path
        self._port = port  # the server's (only its /healthz is served, to nobody)

    async def prepare(self) -> None:
        await asyncio.to_thread(self._remove_files)
        await self._install()

    def _remove_files(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self._path}{suffix}").unlink(missing_ok=True)

    async def open(self) -> None:
        self._database = Database(Settings(_env_file=None, database_url=self.url))

    async def close(self) -> None:
        await self._database.dispose()

    async def empty(self) -> None:
        async with self._database.session(writes=True) as session, session.begin():
            await session.execute(delete(Job))

    async def backend_pids(self) -> list[int]:
        return []  # SQLite runs inside the server: its CPU is the server's

    def command(self, records: str) -> list[str]:  # noqa: ARG002 - passed in the environment
        return [
            *(sys.executable, "-m", "uvicorn", "benchmarks._job_workers:embedded_app", "--factory"),
            *("--port", str(self._port), "--loop", "uvloop", "--http", "httptools"),
            *("--no-access-log", "--log-level", "warning"),
        ]

    def _env(self, records: str) -> dict[str, str]:
        return {"FORGE_DATABASE_URL": self.url, "FORGE_MIGRATE_ON_START": "false", RECORDS_ENV: records}


class Procrastinate(Queue):
    label = "procrastinate"

    def __init__(self, url: str) -> None:
        self.url = url
        import procrastinate  # noqa: PLC0415 - the benchmark group's libraries, imported when compared

        self._app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=libpq(url)))

    async def _install(self) -> None:
        async with self._app.open_async():
            await self._app.schema_manager.apply_schema_async()

    async def open(self) -> None:
        await super().open()
        await self._app.open_async()

    async def close(self) -> None:
        await self._app.close_async()
        await super().close()

    async def enqueue_burst(self, keys: range) -> None:
        arguments: list[dict[str, JSONValue]] = [{"key": key} for key in keys]
        await self._app.configure_task(JOB_NAME).batch_defer_async(*arguments)

    async def enqueue_one(self, key: int) -> int:
        committing = time.time_ns()
        await self._app.configure_task(JOB_NAME).defer_async(key=key)
        return committing

    async def succeeded(self) -> int:
        return int(await self._admin.fetchval("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"))

    def command(self, records: str) -> list[str]:
        return [sys.executable, "-m", "benchmarks._job_workers", "procrastinate", self.url, records]


class PgQueuer(Queue):
    label = "pgqueuer"

    def __init__(self, url: str) -> None:
        self.url = url

    async def _install(self) -> None:
        from pgqueuer import Queries  # noqa: PLC0415

        connection = await asyncpg.connect(libpq(self.url))
        try:
            await Queries.from_asyncpg_connection(connection).install()
        finally:
            await connection.close()

    async def open(self) -> None:
        from pgqueuer import Queries  # noqa: PLC0415

        await super().open()
        self._connection = await asyncpg.connect(libpq(self.url))
        self._queries: Any = Queries.from_asyncpg_connection(self._connection)

    async def close(self) -> None:
        await self._connection.close()
        await super().close()

    async def enqueue_burst(self, keys: range) -> None:
        await self._queries.enqueue([JOB_NAME] * len(keys), [str(key).encode() for key in keys], [0] * len(keys))

    async def enqueue_one(self, key: int) -> int:
        committing = time.time_ns()
        await self._queries.enqueue(JOB_NAME, str(key).encode())
        return committing

    async def succeeded(self) -> int:
        # A finished job leaves the queue table for the log, one row per status it passed through.
        return int(await self._admin.fetchval("SELECT count(*) FROM pgqueuer_log WHERE status = 'successful'"))

    def command(self, records: str) -> list[str]:
        return [sys.executable, "-m", "benchmarks._job_workers", "pgqueuer", self.url, records]
