"""The queue's guarantees on SQLite and PostgreSQL: enqueued with the caller's transaction, run at least once (and,
when handlers succeed, exactly once), retried with backoff, dead after the last attempt, never lost on a stop."""

from datetime import datetime, timedelta

from app.config import Settings
from app.core.database import Database, utcnow
from app.core.jobs import Backoff, JobContext, JobState, JobType, PermanentJobError, enqueue, job_type
from tests.support.jobs import Note, Recorder, all_jobs, job_of, recording_type, set_job, working
from tests.support.polling import eventually


async def _enqueue(
    database: Database, kind: JobType[Note], count: int = 1, *, run_at: datetime | None = None
) -> list[int]:
    async with database.session(writes=True) as session, session.begin():
        jobs = [await enqueue(session, kind, Note(text=f"n{i}"), run_at=run_at) for i in range(count)]
    return [job.id for job in jobs]


async def test_a_job_exists_only_if_its_transaction_commits(database: Database) -> None:
    kind = recording_type(Recorder())
    async with database.session(writes=True) as session, session.begin():
        await enqueue(session, kind, Note(text="rolled back"))
        await session.rollback()
    assert await all_jobs(database) == []

    async with database.session(writes=True) as session, session.begin():
        job = await enqueue(session, kind, Note(text="committed"))
    [stored] = await all_jobs(database)
    assert (stored.id, stored.state, stored.payload, stored.attempts) == (
        job.id,
        JobState.QUEUED,
        {"text": "committed"},
        0,
    )


async def test_a_job_runs_once_with_its_payload_and_id(database: Database) -> None:
    recorder = Recorder()
    [job_id] = await _enqueue(database, recording_type(recorder))
    async with working(database, [recording_type(recorder)]):
        await eventually(lambda: recorder.runs[job_id] == 1)
        await eventually(lambda: _state_is(database, job_id, JobState.SUCCEEDED))
    assert recorder.runs == {job_id: 1}
    assert recorder.payloads == [Note(text="n0")]
    [context] = recorder.contexts
    assert (context.job_id, context.attempt, context.max_attempts, context.job_type) == (job_id, 1, 3, "test.note")
    job = await job_of(database, job_id)
    assert (job.attempts, job.worker, job.lease_until, job.last_error) == (1, None, None, None)
    assert job.finished_at is not None


async def test_a_failed_attempt_is_retried_until_it_succeeds(database: Database) -> None:
    recorder = Recorder(failures=1)
    [job_id] = await _enqueue(database, recording_type(recorder))
    async with working(database, [recording_type(recorder)]):
        await eventually(lambda: _state_is(database, job_id, JobState.SUCCEEDED))
    assert recorder.started[job_id] == 2
    assert recorder.runs == {job_id: 1}
    assert [c.attempt for c in recorder.contexts] == [1, 2]
    job = await job_of(database, job_id)
    assert job.attempts == 2
    assert job.last_error == "RuntimeError: attempt 1 failed"


async def test_after_its_last_attempt_a_job_is_dead_with_its_last_error(database: Database) -> None:
    recorder = Recorder(failures=10)
    [job_id] = await _enqueue(database, recording_type(recorder))
    async with working(database, [recording_type(recorder, max_attempts=3)]):
        await eventually(lambda: _state_is(database, job_id, JobState.DEAD))
    job = await job_of(database, job_id)
    assert (job.attempts, job.last_error) == (3, "RuntimeError: attempt 3 failed")
    assert recorder.started[job_id] == 3
    assert recorder.runs == {}


async def test_a_permanent_failure_makes_the_job_dead_at_its_first_attempt(database: Database) -> None:
    started: list[int] = []

    @job_type(name="test.refused", payload=Note, max_attempts=5, backoff=Backoff(base_seconds=0, max_seconds=0))
    async def refused(payload: Note, context: JobContext) -> None:
        started.append(context.attempt)
        msg = f"refused: {payload.text}"
        raise PermanentJobError(msg)

    [job_id] = await _enqueue(database, refused)
    async with working(database, [refused]):
        await eventually(lambda: _state_is(database, job_id, JobState.DEAD))
    job = await job_of(database, job_id)
    assert (job.attempts, job.last_error) == (1, "PermanentJobError: refused: n0")
    assert started == [1]


async def test_a_job_past_its_timeout_fails(database: Database) -> None:
    recorder = Recorder(block=True)  # never released: only the timeout ends it
    [job_id] = await _enqueue(database, recording_type(recorder))
    async with working(database, [recording_type(recorder, max_attempts=1, timeout_seconds=0.05)]):
        await eventually(lambda: _state_is(database, job_id, JobState.DEAD))
    job = await job_of(database, job_id)
    assert job.last_error is not None
    assert job.last_error.startswith("TimeoutError")


async def test_a_retry_waits_for_its_backoff(database: Database) -> None:
    recorder = Recorder(failures=1)
    kind = recording_type(recorder, backoff=Backoff(base_seconds=3600, max_seconds=7200))
    async with database.session(writes=True) as session, session.begin():
        job_id = (await enqueue(session, kind, Note())).id
    before = utcnow()
    async with working(database, [kind]):
        await eventually(lambda: recorder.started[job_id] == 1)
        await eventually(lambda: _last_error_is(database, job_id, "RuntimeError: attempt 1 failed"))
    job = await job_of(database, job_id)
    assert job.state == JobState.QUEUED
    # Jittered within the upper half of the first delay (base_seconds).
    assert before + timedelta(seconds=1800) <= job.run_at <= utcnow() + timedelta(seconds=3600)
    assert recorder.started[job_id] == 1


async def test_a_scheduled_job_waits_for_its_time(database: Database) -> None:
    recorder = Recorder()
    [later] = await _enqueue(database, recording_type(recorder), run_at=utcnow() + timedelta(hours=1))
    [now] = await _enqueue(database, recording_type(recorder))
    async with working(database, [recording_type(recorder)]):
        await eventually(lambda: recorder.runs[now] == 1)
    assert recorder.runs == {now: 1}
    assert (await job_of(database, later)).state == JobState.QUEUED


async def test_a_worker_claims_only_the_types_it_knows(database: Database) -> None:
    unknown = Recorder()
    [not_mine] = await _enqueue(database, recording_type(unknown))
    ran: list[int] = []

    @job_type(name="test.other", payload=Note, max_attempts=1)
    async def other_type(payload: Note, context: JobContext) -> None:
        ran.append(context.job_id)

    [mine] = await _enqueue(database, other_type)
    async with working(database, [other_type]):
        await eventually(lambda: _state_is(database, mine, JobState.SUCCEEDED))
    assert ran == [mine]
    assert (await job_of(database, not_mine)).state == JobState.QUEUED


async def test_a_job_whose_lease_expired_is_claimed_again(database: Database) -> None:
    recorder = Recorder()
    [job_id] = await _enqueue(database, recording_type(recorder))
    # As a worker that died after claiming it would have left it.
    await set_job(
        database,
        job_id,
        state=JobState.RUNNING,
        attempts=1,
        worker="gone:1:dead",
        lease_until=utcnow() - timedelta(seconds=1),
    )
    async with working(database, [recording_type(recorder)]):
        await eventually(lambda: _state_is(database, job_id, JobState.SUCCEEDED))
    assert [c.attempt for c in recorder.contexts] == [2]
    assert recorder.runs == {job_id: 1}


async def test_an_expired_lease_on_the_last_attempt_makes_the_job_dead(database: Database) -> None:
    recorder = Recorder()
    [job_id] = await _enqueue(database, recording_type(recorder))
    await set_job(
        database, job_id, state=JobState.RUNNING, attempts=3, worker="gone", lease_until=utcnow() - timedelta(seconds=1)
    )
    async with working(database, [recording_type(recorder, max_attempts=3)]):
        await eventually(lambda: _state_is(database, job_id, JobState.DEAD))
    job = await job_of(database, job_id)
    assert job.last_error is not None
    assert "lease expired" in job.last_error
    assert recorder.started == {}


async def test_a_live_lease_is_left_alone(database: Database) -> None:
    recorder = Recorder()
    [held, free] = await _enqueue(database, recording_type(recorder), count=2)
    await set_job(
        database, held, state=JobState.RUNNING, attempts=1, worker="alive", lease_until=utcnow() + timedelta(hours=1)
    )
    async with working(database, [recording_type(recorder)]):
        await eventually(lambda: recorder.runs[free] == 1)
    assert held not in recorder.started
    assert (await job_of(database, held)).state == JobState.RUNNING


async def test_stopping_lets_running_jobs_finish_within_the_bound(database: Database) -> None:
    recorder = Recorder(block=True)
    [job_id] = await _enqueue(database, recording_type(recorder))
    async with working(database, [recording_type(recorder)], shutdown_seconds=30):
        await eventually(lambda: recorder.started[job_id] == 1)
        recorder.release.set()  # finishes while the worker stops
    assert (await job_of(database, job_id)).state == JobState.SUCCEEDED


async def test_stopping_releases_the_jobs_that_did_not_finish(database: Database) -> None:
    recorder = Recorder(block=True)  # never released
    job_ids = await _enqueue(database, recording_type(recorder), count=3)
    async with working(database, [recording_type(recorder)], shutdown_seconds=0.05, concurrency=2):
        await eventually(lambda: len(recorder.started) == 2)
    jobs = {job.id: job for job in await all_jobs(database)}
    assert {jobs[i].state for i in job_ids} == {JobState.QUEUED}
    assert {(jobs[i].attempts, jobs[i].worker, jobs[i].lease_until) for i in job_ids} == {(0, None, None)}

    finisher = Recorder()  # another worker takes them over
    async with working(database, [recording_type(finisher)]):
        await eventually(lambda: len(finisher.runs) == 3)
    assert finisher.runs == dict.fromkeys(job_ids, 1)


async def test_two_workers_run_every_job_exactly_once(database: Database, settings: Settings) -> None:
    jobs = 300
    recorder = Recorder()
    job_ids = await _enqueue(database, recording_type(recorder), count=jobs)
    other = Database(settings)  # a pool of its own, as another process would have
    try:
        kind = recording_type(recorder)
        async with working(database, [kind], concurrency=8) as first, working(other, [kind], concurrency=8) as second:
            await eventually(lambda: sum(recorder.runs.values()) >= jobs, seconds=60)
            assert first.id != second.id
        assert recorder.runs == dict.fromkeys(job_ids, 1)
        assert recorder.started == dict.fromkeys(job_ids, 1)
        assert {c.worker_id for c in recorder.contexts} == {first.id, second.id}  # both took part
        assert {job.state for job in await all_jobs(database)} == {JobState.SUCCEEDED}
    finally:
        await other.dispose()


async def _state_is(database: Database, job_id: int, state: JobState) -> bool:
    return (await job_of(database, job_id)).state == state


async def _last_error_is(database: Database, job_id: int, error: str) -> bool:
    return (await job_of(database, job_id)).last_error == error


async def test_finished_jobs_are_purged_after_the_retention_but_dead_ones_stay(database: Database) -> None:
    recorder = Recorder()
    old, recent, dead, cancelled = await _enqueue(database, recording_type(recorder), count=4)
    long_ago = utcnow() - timedelta(days=8)
    await set_job(database, old, state=JobState.SUCCEEDED, finished_at=long_ago)
    await set_job(database, recent, state=JobState.SUCCEEDED, finished_at=utcnow() - timedelta(days=6))
    await set_job(database, dead, state=JobState.DEAD, finished_at=long_ago)
    await set_job(database, cancelled, state=JobState.CANCELLED, finished_at=long_ago)
    async with working(database, [recording_type(recorder)], retention=timedelta(days=7)):
        await eventually(lambda: _ids_are(database, [recent, dead]))
    assert recorder.started == {}


async def _ids_are(database: Database, ids: list[int]) -> bool:
    return [job.id for job in await all_jobs(database)] == ids
