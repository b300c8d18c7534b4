"""The queue's statements: enqueue (in the caller's transaction), and a worker's claim, outcome and release.

Every transition is one conditional UPDATE, so that no two parties can both make it: a claim takes only queued,
due rows (PostgreSQL skips rows another claim has locked; SQLite runs one writer at a time), and an outcome is
written only by the worker that still holds the claim for that attempt, so a worker whose lease ran out (and whose
job another worker took) cannot overwrite the newer attempt.
"""

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import case, delete, event, func, literal, null, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from app.core.database import UTCDateTime, utcnow
from app.core.jobs._models import Job, JobState
from app.core.jobs._periodic import AnyPeriodic
from app.core.jobs._registry import JobType
from app.core.tracing import trace_carrier

__all__ = [
    "NOTIFY_CHANNEL",
    "Claimed",
    "EnqueuedObserver",
    "any_due",
    "claim",
    "count_due",
    "counting_enqueued",
    "enqueue",
    "enqueue_tick",
    "fail",
    "notify",
    "purge",
    "reap",
    "release",
    "succeed",
]

NOTIFY_CHANNEL = "forge_jobs"
_MAX_ERROR_LENGTH = 4000
_NOTIFIED = "forge.jobs.notified"  # the session's transaction that has already notified
LEASE_EXPIRED = "lease expired: the worker stopped without reporting the attempt"
_OBSERVER = "forge.jobs.enqueued_observer"  # a session's info: told the jobs enqueued by each committed transaction
_PENDING = "forge.jobs.enqueued_pending"  # ... and the jobs enqueued by the transaction in progress, by type

type EnqueuedObserver = Callable[[Mapping[str, int]], None]


@dataclass(frozen=True, slots=True)
class Claimed:
    """A job a worker holds, for one attempt."""

    id: int
    type: str
    payload: Any
    attempt: int
    max_attempts: int
    trace_context: dict[str, str] | None
    run_at: datetime  # when it became due: its start delay is measured from here


def _is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def notify(session: AsyncSession) -> None:
    """Wake idle PostgreSQL workers when the session's transaction commits (a rolled-back one notifies nobody).

    Once per transaction (savepoint): a request that enqueues a hundred jobs pays one round trip, not a hundred.
    """
    if not _is_postgresql(session):
        return
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is not None and session.info.get(_NOTIFIED) is transaction:
        return
    await session.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))
    session.info[_NOTIFIED] = transaction


async def enqueue[P: BaseModel](
    session: AsyncSession, job_type: JobType[P], payload: P, *, run_at: datetime | None = None
) -> Job:
    """Add a job to the caller's transaction: workers see it if and only if that transaction commits.

    `run_at` (timezone-aware) schedules it; by default it is due at once. Returns the job, its id assigned.
    """
    job = Job(
        type=job_type.name,
        payload=payload.model_dump(mode="json"),
        state=JobState.QUEUED,
        run_at=run_at or utcnow(),
        attempts=0,
        max_attempts=job_type.max_attempts,
        trace_context=trace_carrier() or None,
    )
    session.add(job)
    await session.flush()
    await notify(session)
    _count_enqueued(session, job_type.name)
    return job


def counting_enqueued(observer: EnqueuedObserver | None) -> dict[str, Any]:
    """The `info` that makes a session tell `observer` the jobs (by type) that each of its transactions enqueued,
    once that transaction has committed (`Database(settings, session_info=...)`); a rollback tells nothing.

    A job enqueued in a savepoint that was rolled back, inside a transaction that committed, is counted all the same.
    """
    return {} if observer is None else {_OBSERVER: observer}


def _count_enqueued(session: AsyncSession, job_type: str) -> None:
    info = session.info
    if _OBSERVER not in info:
        return
    pending: Counter[str] | None = info.get(_PENDING)
    if pending is None:  # the session's first enqueue: listen for its transactions' ends (once per session)
        pending = info[_PENDING] = Counter()
        event.listen(session.sync_session, "after_commit", _report_enqueued)
        event.listen(session.sync_session, "after_transaction_end", _forget_enqueued)
    pending[job_type] += 1


def _report_enqueued(session: Session) -> None:
    pending: Counter[str] = session.info[_PENDING]
    if pending:
        counts = dict(pending)
        pending.clear()
        session.info[_OBSERVER](counts)


def _forget_enqueued(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended without a commit (after one, nothing is left)
        session.info[_PENDING].clear()


def _due(types: Sequence[str]) -> Any:
    return (Job.state == JobState.QUEUED) & (Job.run_at <= utcnow()) & Job.type.in_(types)


async def any_due(session: AsyncSession, *, types: Sequence[str]) -> bool:
    """Whether a job of `types` is due (a read: no lock taken)."""
    return (await session.execute(select(Job.id).where(_due(types)).limit(1))).first() is not None


async def enqueue_tick(session: AsyncSession, periodic: AnyPeriodic, tick: datetime) -> bool:
    """Enqueue `periodic`'s job for `tick`, unless a worker already has: True for the one insert that gets through."""
    dialect = postgresql if _is_postgresql(session) else sqlite
    statement = (
        dialect.insert(Job)
        .values(
            type=periodic.job_type.name,
            payload=periodic.payload.model_dump(mode="json"),
            state=JobState.QUEUED,
            run_at=tick,
            attempts=0,
            max_attempts=periodic.job_type.max_attempts,
            unique_key=periodic.key(tick),
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[Job.unique_key])
    )
    inserted = _changed(await session.execute(statement))
    if inserted:
        await notify(session)
        _count_enqueued(session, periodic.job_type.name)
    return inserted


async def count_due(session: AsyncSession) -> int:
    """How many queued jobs (of any type) are due: the queue's depth."""
    statement = select(func.count()).select_from(Job).where(Job.state == JobState.QUEUED, Job.run_at <= utcnow())
    return int((await session.execute(statement)).scalar_one())


async def claim(
    session: AsyncSession, *, worker: str, types: Sequence[str], limit: int, lease_until: datetime
) -> list[Claimed]:
    """Up to `limit` due jobs of `types`, now running under `worker`'s lease, oldest due first."""
    due = (
        select(Job.id)
        .where(_due(types))
        .order_by(Job.run_at, Job.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite renders nothing and serialises writers instead
    )
    statement = (
        update(Job)
        .where(Job.id.in_(due.scalar_subquery()))
        .values(state=JobState.RUNNING, attempts=Job.attempts + 1, worker=worker, lease_until=lease_until)
        .returning(Job.id, Job.type, Job.payload, Job.attempts, Job.max_attempts, Job.trace_context, Job.run_at)
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(statement)).all()
    return [Claimed(*row) for row in rows]


def _held(claimed: Claimed, worker: str) -> Any:
    return (
        (Job.id == claimed.id)
        & (Job.state == JobState.RUNNING)
        & (Job.worker == worker)
        & (Job.attempts == claimed.attempt)
    )


async def succeed(session: AsyncSession, claimed: Sequence[Claimed], *, worker: str) -> set[int]:
    """Mark the attempts succeeded, in one statement; returns the ids of those whose claim was still held (a lost
    one's lease ran out, and the job is another worker's now)."""
    if not claimed:
        return set()
    statement = (
        update(Job)
        .where(
            Job.state == JobState.RUNNING,
            Job.worker == worker,
            tuple_(Job.id, Job.attempts).in_([(job.id, job.attempt) for job in claimed]),
        )
        .values(state=JobState.SUCCEEDED, worker=None, lease_until=None, finished_at=utcnow())
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return set((await session.execute(statement)).scalars())


async def fail(session: AsyncSession, claimed: Claimed, *, worker: str, error: str, retry_at: datetime | None) -> bool:
    """Record a failed attempt: queued again for `retry_at`, or dead (with `error`) when there is none."""
    values: dict[str, Any] = {"worker": None, "lease_until": None, "last_error": error[:_MAX_ERROR_LENGTH]}
    if retry_at is None:
        values.update(state=JobState.DEAD, finished_at=utcnow())
    else:
        values.update(state=JobState.QUEUED, run_at=retry_at)
    statement = update(Job).where(_held(claimed, worker)).values(values).execution_options(synchronize_session=False)
    changed = _changed(await session.execute(statement))
    if changed and retry_at is not None:
        await notify(session)
    return changed


async def release(session: AsyncSession, claimed: Sequence[Claimed], *, worker: str) -> int:
    """Give unfinished jobs back, due at once and without counting the interrupted attempt."""
    released = 0
    for job in claimed:
        statement = (
            update(Job)
            .where(_held(job, worker))
            .values(state=JobState.QUEUED, attempts=Job.attempts - 1, worker=None, lease_until=None, run_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        released += _changed(await session.execute(statement))
    if released:
        await notify(session)
    return released


async def reap(session: AsyncSession) -> list[tuple[str, str]]:
    """Jobs whose worker's lease ran out (the worker died): queued again, or dead after their last attempt. Returns
    each one's type and new state."""
    now = utcnow()
    statement = (
        update(Job)
        .where(Job.state == JobState.RUNNING, Job.lease_until < now)
        .values(
            state=case((Job.attempts >= Job.max_attempts, JobState.DEAD.value), else_=JobState.QUEUED.value),
            finished_at=case((Job.attempts >= Job.max_attempts, literal(now, UTCDateTime())), else_=null()),
            worker=None,
            lease_until=None,
            run_at=now,
            last_error=LEASE_EXPIRED,
        )
        .returning(Job.type, Job.state)
        .execution_options(synchronize_session=False)
    )
    reaped = [(kind, state) for kind, state in (await session.execute(statement)).all()]
    if reaped:
        await notify(session)
    return reaped


async def purge(session: AsyncSession, *, finished_before: datetime) -> int:
    """Delete succeeded and cancelled jobs that finished before `finished_before`; dead ones stay for an admin."""
    statement = delete(Job).where(
        Job.state.in_((JobState.SUCCEEDED, JobState.CANCELLED)), Job.finished_at < finished_before
    )
    return int(getattr(await session.execute(statement), "rowcount", 0))


def _changed(result: Any) -> bool:
    return int(getattr(result, "rowcount", 0)) > 0
