"""Queueing mail and running its jobs in a test: the `mail.send` job type as the app declares it, or with its
retries made at once (`INSTANT_RETRIES`), run by a worker that has the test's mailer."""

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from app.core.database import Database
from app.core.jobs import Backoff, Job, JobState, JobType, Worker
from app.core.mail import Mailer, Message, send_mail
from tests.support.jobs import job_of, working
from tests.support.polling import eventually

__all__ = ["INSTANT_RETRIES", "queue", "sending", "settled"]

# The app's job type (same name, handler and attempts), retried at once rather than after 30 s and more.
INSTANT_RETRIES: JobType[Any] = dataclasses.replace(send_mail, backoff=Backoff(base_seconds=0.0, max_seconds=0.0))


async def queue(database: Database, mailer: Mailer, message: Message) -> Job:
    """`message` queued in a transaction of its own, committed."""
    async with database.session(writes=True) as session, session.begin():
        return await mailer.enqueue(session, message)


@asynccontextmanager
async def sending(database: Database, mailer: Mailer, *, job_type: JobType[Any] = send_mail) -> AsyncIterator[Worker]:
    """A worker that runs `mail.send` jobs (as `job_type` says) with `mailer`, until the block ends."""
    async with working(database, [job_type], mailer=mailer) as worker:
        yield worker


async def settled(database: Database, job_id: int, *, retried: bool = False) -> Job:
    """The job once it has succeeded or died, or (`retried`) once an attempt failed and it waits for another."""

    async def done() -> bool:
        job = await job_of(database, job_id)
        if retried:
            return job.state == JobState.QUEUED and job.last_error is not None
        return job.state in {JobState.SUCCEEDED, JobState.DEAD}

    await eventually(done, message=f"job {job_id} settled")
    return await job_of(database, job_id)
