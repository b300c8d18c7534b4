"""Job types that record their runs, and the queue's rows as a test reads them (the tables are committed to)."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.core.database import Database, DBSession
from app.core.exceptions import ConflictError
from app.core.jobs import Backoff, Job, JobContext, JobRegistry, JobType, Periodic, Worker, enqueue

__all__ = [
    "Note",
    "Recorder",
    "all_jobs",
    "clear_jobs",
    "enqueue_router",
    "job_of",
    "recording_type",
    "set_job",
    "working",
]

NO_WAIT = Backoff(base_seconds=0.0, max_seconds=0.0)


class Note(BaseModel):
    """A test job's payload."""

    text: str = ""


@dataclass
class Recorder:
    """What a test job type's handler saw, and what it should do: fail its first `failures` attempts (per job),
    or block until `release` is set."""

    failures: int = 0
    block: bool = False
    runs: Counter[int] = field(default_factory=Counter)  # job id -> attempts that ran to the end
    started: Counter[int] = field(default_factory=Counter)
    contexts: list[JobContext] = field(default_factory=list)
    payloads: list[Note] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, payload: Note, context: JobContext) -> None:
        self.started[context.job_id] += 1
        self.contexts.append(context)
        if self.block:
            await self.release.wait()
        if self.started[context.job_id] <= self.failures:
            msg = f"attempt {context.attempt} failed"
            raise RuntimeError(msg)
        self.payloads.append(payload)
        self.runs[context.job_id] += 1


def recording_type(
    recorder: Recorder,
    *,
    name: str = "test.note",
    max_attempts: int = 3,
    timeout_seconds: float = 30.0,
    backoff: Backoff = NO_WAIT,
) -> JobType[Note]:
    return JobType(
        name=name,
        payload=Note,
        handler=recorder.handle,
        max_attempts=max_attempts,
        timeout_seconds=timeout_seconds,
        backoff=backoff,
    )


def enqueue_router(kind: JobType[Note]) -> APIRouter:
    """`POST /test-jobs?text=&fail=`: enqueues a job of `kind` in the request's transaction, then fails (409) when
    asked to, after the enqueue."""
    router = APIRouter()

    @router.post("/test-jobs", status_code=201)
    async def enqueue_note(session: DBSession, text: str, fail: bool = False) -> dict[str, int]:
        job = await enqueue(session, kind, Note(text=text))
        if fail:
            msg = "failed after enqueueing"
            raise ConflictError(msg)
        return {"id": job.id}

    return router


@asynccontextmanager
async def working(
    database: Database, types: Iterable[JobType[Any]], *, periodic: Iterable[Periodic[Any]] = (), **options: Any
) -> AsyncIterator[Worker]:
    """A started worker (polling every 20 ms unless told otherwise), stopped when the block ends."""
    options.setdefault("poll_seconds", 0.02)
    options.setdefault("concurrency", 4)
    worker = Worker(database=database, registry=JobRegistry(types, periodic=periodic), **options)
    worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


async def all_jobs(database: Database) -> list[Job]:
    async with database.session(writes=False) as session:
        return list((await session.execute(select(Job).order_by(Job.id))).scalars())


async def job_of(database: Database, job_id: int) -> Job:
    async with database.session(writes=False) as session:
        return (await session.execute(select(Job).where(Job.id == job_id))).scalar_one()


async def set_job(database: Database, job_id: int, **values: Any) -> None:
    """Put a job into a state directly, as a crashed worker or an earlier run would have left it."""
    async with database.session(writes=True) as session, session.begin():
        await session.execute(update(Job).where(Job.id == job_id).values(**values))


async def clear_jobs(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(delete(Job))


@asynccontextmanager
async def committing_database(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Database]:
    """The app's database object on the test database, for tests whose queue rows are committed: disposed, and the
    jobs removed, afterwards."""
    database = Database(settings)
    try:
        yield database
    finally:
        await database.dispose()
        await clear_jobs(engine)
