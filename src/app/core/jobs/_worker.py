"""The worker: claims due jobs, runs up to `concurrency` of them at once, and records each attempt's outcome.

A job is claimed for a lease (the longest timeout of the registered types plus a grace); a worker that dies leaves
its jobs to expire, and any worker's reaper queues them again (or marks them dead after their last attempt).
`stop()` lets running jobs finish within `shutdown_seconds`, then cancels the rest and releases them, due at once
for another worker, the interrupted attempt not counted. Delivery is therefore at least once: a handler must be
idempotent, keyed by `JobContext.job_id`.
"""

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings, get_settings
from app.core.database import Database, committing, utcnow
from app.core.jobs import _store
from app.core.jobs._listen import Listener
from app.core.jobs._models import JobState
from app.core.jobs._readiness import Readiness
from app.core.jobs._recorder import SuccessRecorder
from app.core.jobs._registry import GiveUp, JobContext, JobRegistry, JobType, RetryLater
from app.core.jobs._store import Claimed
from app.core.metrics import JobMetrics
from app.core.tracing import Tracing

if TYPE_CHECKING:
    from app.core.events import Events
    from app.core.mail import Mailer

__all__ = ["Worker", "configured_worker"]

_log = structlog.get_logger("app.jobs")
LEASE_GRACE_SECONDS = 30.0


def _worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def _without_subscribers() -> "Events":
    # app.core.events enqueues through this package, so it is imported when a worker is built, not with the package.
    from app.core.events import Events, Subscriptions  # noqa: PLC0415

    return Events(Subscriptions())


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "TimeoutError: the job ran past its type's timeout"
    return f"{type(error).__name__}: {error}"


class Worker:
    """One process's job runner. `start()` and `stop()` bracket it; `listen_url` (PostgreSQL) adds LISTEN/NOTIFY."""

    def __init__(
        self,
        *,
        database: Database,
        registry: JobRegistry,
        concurrency: int,
        poll_seconds: float = 1.0,
        shutdown_seconds: float = 10.0,
        reap_seconds: float = 10.0,
        retention: timedelta = timedelta(days=7),
        purge_seconds: float = 3600.0,
        lease_grace_seconds: float = LEASE_GRACE_SECONDS,
        listen_url: str | None = None,
        connect_timeout: float = 5.0,
        tracing: Tracing | None = None,
        metrics: JobMetrics | None = None,
        settings: Settings | None = None,
        events: "Events | None" = None,
        mailer: "Mailer | None" = None,
    ) -> None:
        """`settings` and `events` are the app's, which handlers get in their `JobContext` (`configured_worker`
        passes them; by default the environment's settings and events without subscribers)."""
        self.id = _worker_id()
        self._database = database
        self._settings = settings if settings is not None else get_settings()
        self._events = events if events is not None else _without_subscribers()
        self._registry = registry
        self._concurrency = concurrency
        self._poll_seconds = poll_seconds
        self._shutdown_seconds = shutdown_seconds
        self._reap_seconds = reap_seconds
        self._retention = retention
        self._purge_seconds = purge_seconds
        self._lease = timedelta(seconds=registry.longest_timeout + lease_grace_seconds)
        self._tracing = tracing or Tracing()
        self._metrics = metrics
        self._mailer = mailer
        self._listener = (
            Listener(listen_url, self._wake_up, connect_timeout=connect_timeout) if listen_url is not None else None
        )
        self._wake = asyncio.Event()
        self._stopping = False
        self._readiness = Readiness(self.id, metrics)
        self._running: dict[asyncio.Task[None], Claimed] = {}
        self._recorder = SuccessRecorder(database, self.id)
        self._next_ticks: list[datetime] = []  # of registry.periodic, in order
        self._tasks: list[asyncio.Task[None]] = []

    def _wake_up(self) -> None:
        self._wake.set()

    @property
    def ready(self) -> bool:
        """Running, and its last round reached the queue: the worker's own readiness (its `/readyz`)."""
        loop_alive = bool(self._tasks) and not self._tasks[0].done()
        return loop_alive and not self._stopping and bool(self._readiness.reaching)

    def start(self) -> None:
        loop = asyncio.create_task(self._loop(), name=f"jobs-worker {self.id}")
        loop.add_done_callback(self._loop_ended)
        self._tasks.append(loop)
        if self._listener is not None:
            self._tasks.append(asyncio.create_task(self._listener.run(), name="jobs-listener"))
        _log.info(
            "job_worker_started",
            worker=self.id,
            types=self._registry.names,
            concurrency=self._concurrency,
            listening=self._listener is not None,
        )

    async def stop(self) -> None:
        """Stop claiming; wait up to `shutdown_seconds` for running jobs, then cancel and release the rest."""
        self._stopping = True
        self._readiness.ended()
        self._wake.set()
        # The loop ends after its current round: cancelled inside a claim that committed, it would strand the jobs
        # it claimed until their lease expired. The listener has nothing to lose.
        for task in self._tasks[1:]:  # the listener
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        running = list(self._running)
        if running:
            _, unfinished = await asyncio.wait(running, timeout=self._shutdown_seconds)
            for task in unfinished:
                task.cancel()
            if unfinished:
                await asyncio.wait(unfinished)
        await self._recorder.drain()  # the outcomes of jobs cancelled while theirs was being written, too
        _log.info("job_worker_stopped", worker=self.id)

    async def _loop(self) -> None:
        next_reap = next_purge = 0.0
        now = utcnow()
        self._next_ticks = [entry.schedule.after(now) for entry in self._registry.periodic]
        while not self._stopping:
            self._wake.clear()
            await self._enqueue_ticks()
            if time.monotonic() >= next_reap:
                await self._reap()
                next_reap = time.monotonic() + self._reap_seconds
            if time.monotonic() >= next_purge:
                await self._purge()
                next_purge = time.monotonic() + self._purge_seconds
            free = self._concurrency - len(self._running)
            claimed = await self._claim(free) if free > 0 else []
            for job in claimed:
                if self._metrics is not None:
                    self._metrics.started(job.type, (utcnow() - job.run_at).total_seconds())
                task = asyncio.create_task(self._execute(job), name=f"job {job.id}")
                self._running[task] = job
                task.add_done_callback(self._finished)
            self._readiness.end_round()
            if free > 0 and len(claimed) == free:
                continue  # there may be more due: claim again as soon as a slot frees
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._until_next_round())

    def _until_next_round(self) -> float:
        """The poll interval, shortened to the next periodic tick."""
        if not self._next_ticks:
            return self._poll_seconds
        until_tick = (min(self._next_ticks) - utcnow()).total_seconds()
        return max(0.0, min(self._poll_seconds, until_tick))

    def _loop_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:  # a bug: say so, rather than stop silently
            _log.error("job_worker_failed", worker=self.id, exc_info=task.exception())
            self._readiness.ended()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self._wake.set()  # a free slot

    async def _enqueue_ticks(self) -> None:
        """Each periodic job whose tick has come: enqueued for that tick (by this worker or another), once."""
        now = utcnow()
        for index, entry in enumerate(self._registry.periodic):
            tick = self._next_ticks[index]
            if tick > now:
                continue
            try:
                async with committing(self._database.session(writes=True)) as session:
                    enqueued = await _store.enqueue_tick(session, entry, tick)
            except Exception as exc:  # noqa: BLE001 - as above: the next round tries this tick again
                _log.warning("job_tick_failed", job_type=entry.job_type.name, exc_info=True)
                self._readiness.noted(exc)
                continue
            self._readiness.noted()
            if enqueued:
                _log.info("job_tick_enqueued", job_type=entry.job_type.name, tick=tick.isoformat())
            self._next_ticks[index] = entry.schedule.after(now)  # ticks missed meanwhile are not made up

    async def _reap(self) -> None:
        try:
            async with committing(self._database.session(writes=True)) as session:
                reaped = await _store.reap(session)
        except Exception as exc:  # noqa: BLE001 - a database outage must not end the worker: the next round retries
            _log.warning("job_reap_failed", exc_info=True)
            self._readiness.noted(exc)
            return
        self._readiness.noted()
        if reaped:
            _log.warning("job_leases_expired", count=len(reaped))
        if self._metrics is not None:
            for job_type, state in reaped:
                self._metrics.lease_expired(job_type, dead=state == JobState.DEAD)
            await self._count_due(self._metrics)

    async def _count_due(self, metrics: JobMetrics) -> None:
        try:
            async with self._database.session(writes=False) as session:
                metrics.due(await _store.count_due(session))
        except Exception:  # noqa: BLE001 - as above
            _log.warning("job_count_failed", exc_info=True)

    async def _purge(self) -> None:
        try:
            async with committing(self._database.session(writes=True)) as session:
                purged = await _store.purge(session, finished_before=utcnow() - self._retention)
        except Exception as exc:  # noqa: BLE001 - as above: the next round retries
            _log.warning("job_purge_failed", exc_info=True)
            self._readiness.noted(exc)
            return
        if purged:
            _log.info("jobs_purged", count=purged)

    async def _claim(self, limit: int) -> list[Claimed]:
        if not self._registry:
            return []  # an app without job types yet: the worker only reaps
        try:
            if self._database.is_sqlite and not await self._any_due():
                claimed = []
            else:
                # One statement, atomic by itself: sent without BEGIN/COMMIT in an autocommitting session (two
                # round trips fewer; four with the pool's pre-ping, which outside a transaction pings inside one
                # of its own).
                async with self._database.session(writes=False) as session:
                    claimed = await _store.claim(
                        session,
                        worker=self.id,
                        types=self._registry.names,
                        limit=limit,
                        lease_until=utcnow() + self._lease,
                    )
        except Exception as exc:  # noqa: BLE001 - as above: the poll retries
            _log.warning("job_claim_failed", exc_info=True)
            self._readiness.noted(exc)
            return []
        self._readiness.noted()
        return claimed

    async def _any_due(self) -> bool:
        """SQLite: a read first, so that an idle worker's polls do not take the database's one write lock."""
        async with self._database.session(writes=False) as session:
            return await _store.any_due(session, types=self._registry.names)

    async def _execute(self, job: Claimed) -> None:
        kind = self._registry.get(job.type)
        if kind is None:  # only registered types are claimed
            return
        context = JobContext(
            job_id=job.id,
            job_type=job.type,
            attempt=job.attempt,
            max_attempts=job.max_attempts,
            worker_id=self.id,
            database=self._database,
            events=self._events,
            settings=self._settings,
            mailer=self._mailer,
            metrics=self._metrics,
        )
        attributes: dict[str, int | str] = {"job.id": job.id, "job.type": job.type, "job.attempt": job.attempt}
        with (
            structlog.contextvars.bound_contextvars(job_id=job.id, job_type=job.type),
            self._tracing.span(f"job {job.type}", attributes, parent=job.trace_context),
        ):
            await self._attempt(kind, job, context)

    async def _attempt(self, kind: JobType[Any], job: Claimed, context: JobContext) -> None:
        started = time.monotonic()
        try:
            async with asyncio.timeout(kind.timeout_seconds):
                await kind.run(job.payload, context)
        except asyncio.CancelledError:
            await self._record("job_released", job, lambda session: _store.release(session, [job], worker=self.id))
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of a handler is the job's, recorded on it
            await self._failed(kind, job, exc)
        else:
            await self._record_success(job, round(time.monotonic() - started, 6))

    async def _record_success(self, job: Claimed, seconds: float) -> None:
        """Have the attempt's outcome written (the job's slot stays taken until then, as for any outcome), then log
        it in the job's span and log context."""
        held = await self._recorder.record(job)
        if held is None:
            return  # not written (the recorder logged why): the lease expires and the job runs again
        if not held:
            _log.warning("job_claim_lost", outcome="job_succeeded", attempt=job.attempt)
            return
        if self._metrics is not None:
            self._metrics.counted(job.type, "succeeded")
        _log.info("job_succeeded", attempt=job.attempt, seconds=seconds)

    async def _failed(self, kind: JobType[Any], job: Claimed, error: Exception) -> None:
        retry_at = _retry_at(kind, job, error)
        event = "job_failed" if retry_at is not None else "job_dead"
        if isinstance(error, RetryLater | GiveUp):  # the handler's own verdict: its reason says all, no traceback
            _log.warning(event, attempt=job.attempt, retry_at=retry_at, error=str(error))
        else:
            _log.warning(event, attempt=job.attempt, retry_at=retry_at, exc_info=error)
        message = _describe(error)
        await self._record(
            event, job, lambda session: _store.fail(session, job, worker=self.id, error=message, retry_at=retry_at)
        )

    async def _record(self, event: str, job: Claimed, write: Callable[[AsyncSession], Awaitable[bool | int]]) -> None:
        """Write an attempt's outcome in a transaction of its own; if it cannot be written, the lease expires and
        the job runs again (at least once)."""
        try:
            async with committing(self._database.session(writes=True)) as session:
                held = await write(session)
        except Exception:  # noqa: BLE001
            _log.warning("job_outcome_not_recorded", outcome=event, exc_info=True)
            return
        if not held:
            _log.warning("job_claim_lost", outcome=event, attempt=job.attempt)
            return
        if self._metrics is not None:
            self._metrics.counted(job.type, event.removeprefix("job_"))
        if event == "job_released":
            _log.info(event, attempt=job.attempt)


def _retry_at(kind: JobType[Any], job: Claimed, error: Exception) -> datetime | None:
    """When the failed attempt's job runs again: never after its last attempt or when its handler gave up; at the
    time the handler asked for; otherwise after the type's backoff."""
    if isinstance(error, GiveUp) or job.attempt >= job.max_attempts:
        return None
    if isinstance(error, RetryLater):
        return error.at
    return utcnow() + timedelta(seconds=kind.backoff.delay(job.attempt))


def configured_worker(
    settings: Settings,
    database: Database,
    registry: JobRegistry,
    *,
    tracing: Tracing | None = None,
    metrics: JobMetrics | None = None,
    events: "Events | None" = None,
    mailer: "Mailer | None" = None,
) -> Worker:
    """A worker on `database` as the settings configure it; on PostgreSQL it also listens for new jobs. `events`
    is the app's (`Events(event_subscriptions())`), with which handlers record events."""
    return Worker(
        database=database,
        registry=registry,
        concurrency=settings.jobs_concurrency,
        poll_seconds=settings.jobs_poll_seconds,
        shutdown_seconds=settings.jobs_shutdown_seconds,
        retention=timedelta(days=settings.jobs_retention_days),
        listen_url=None if settings.is_sqlite else settings.database_url,
        connect_timeout=settings.database_connect_timeout,
        tracing=tracing,
        metrics=metrics,
        settings=settings,
        events=events,
        mailer=mailer,
    )
