"""What a worker sends per job: claims and successes are single statements sent without BEGIN/COMMIT, and the
successes of attempts that finish together are recorded by one statement (group commit)."""

from contextlib import ExitStack

from app.config import Settings
from app.core.database import Database
from app.core.jobs import JobState, JobType, enqueue
from tests.support.databases import statements_sent
from tests.support.jobs import Note, Recorder, all_jobs, recording_type, working
from tests.support.polling import eventually


async def _enqueue(database: Database, kind: JobType[Note], count: int) -> list[int]:
    async with database.session(writes=True) as session, session.begin():
        return [(await enqueue(session, kind, Note(text=f"n{i}"))).id for i in range(count)]


async def _all_succeeded(database: Database, count: int) -> bool:
    jobs = await all_jobs(database)
    return len(jobs) == count and all(job.state == JobState.SUCCEEDED for job in jobs)


async def test_attempts_that_finish_together_are_recorded_by_one_statement(database: Database) -> None:
    recorder = Recorder(block=True)
    kind = recording_type(recorder)
    job_ids = await _enqueue(database, kind, 10)
    async with working(database, [kind], concurrency=10):
        await eventually(lambda: len(recorder.started) == 10)
        recorder.release.set()
        await eventually(lambda: _all_succeeded(database, 10))
    assert recorder.runs == dict.fromkeys(job_ids, 1)
    jobs = await all_jobs(database)
    # One UPDATE set them all: they share its `finished_at`.
    assert len({job.finished_at for job in jobs}) == 1
    assert {(job.worker, job.lease_until, job.attempts) for job in jobs} == {(None, None, 1)}


async def test_claims_and_successes_are_sent_outside_transactions(database: Database, settings: Settings) -> None:
    recorder = Recorder()
    kind = recording_type(recorder)
    enqueuer = Database(settings)  # an engine of its own: its transactions are not the worker's
    try:
        await _enqueue(enqueuer, kind, 1)
        with ExitStack() as stack:
            async with working(database, [kind], reap_seconds=3600):
                # The first job done, the worker's first round (reaping and purging, in transactions) is behind it.
                await eventually(lambda: _all_succeeded(database, 1))
                sent = stack.enter_context(statements_sent(database.engine))
                await _enqueue(enqueuer, kind, 5)
                await eventually(lambda: _all_succeeded(database, 6))
            # Counted until the worker stopped: none of its round trips is cut in half.
    finally:
        await enqueuer.dispose()
    assert len(recorder.runs) == 6
    assert "UPDATE" in sent
    assert "COMMIT" not in sent
    # The only transactions are the pool's pre-pings' (PostgreSQL: BEGIN, an empty query, ROLLBACK); SQLite has none.
    assert sent.count("BEGIN") == sent.count("ROLLBACK")
