"""A handler decides when its failed job runs again (`RetryLater`), or that it does not (`GiveUp`): SQLite and
PostgreSQL."""

from datetime import timedelta

from app.core.database import Database, utcnow
from app.core.jobs import GiveUp, Handler, Job, JobContext, JobState, JobType, RetryLater, enqueue
from tests.support.jobs import NO_WAIT, Note, job_of, working
from tests.support.polling import eventually

LATER = timedelta(hours=3)


class Verdicts:
    """Handlers that fail each attempt with a verdict: `RetryLater` (for LATER) or `GiveUp`."""

    def __init__(self) -> None:
        self.contexts: list[JobContext] = []

    async def retry_later(self, _payload: Note, context: JobContext) -> None:
        self.contexts.append(context)
        raise RetryLater("the upstream asked for a pause", at=utcnow() + LATER)

    async def give_up(self, _payload: Note, context: JobContext) -> None:
        self.contexts.append(context)
        raise GiveUp("the upstream refused the request for good")


def _kind(name: str, handler: Handler[Note]) -> JobType[Note]:
    return JobType(name=name, payload=Note, handler=handler, max_attempts=3, backoff=NO_WAIT)


async def _enqueue(database: Database, kind: JobType[Note], text: str = "") -> int:
    async with database.session(writes=True) as session, session.begin():
        return (await enqueue(session, kind, Note(text=text))).id


async def _state_is(database: Database, job_id: int, state: JobState) -> bool:
    return (await job_of(database, job_id)).state == state


async def test_retry_later_queues_the_job_for_the_time_asked_not_the_backoff(database: Database) -> None:
    verdicts = Verdicts()
    kind = _kind("test.retry-later", verdicts.retry_later)
    job_id = await _enqueue(database, kind)
    before = utcnow()
    async with working(database, [kind]):
        await eventually(lambda: _queued_again(database, job_id))
    job = await job_of(database, job_id)
    assert (job.state, job.attempts) == (JobState.QUEUED, 1)  # NO_WAIT's backoff would have run it again at once
    assert before + LATER <= job.run_at <= utcnow() + LATER
    assert job.last_error == "RetryLater: the upstream asked for a pause"
    assert len(verdicts.contexts) == 1


async def _queued_again(database: Database, job_id: int) -> bool:
    job = await job_of(database, job_id)
    return job.state == JobState.QUEUED and job.attempts == 1


async def test_retry_later_on_the_last_attempt_leaves_the_job_dead(database: Database) -> None:
    verdicts = Verdicts()
    kind = _kind("test.retry-later", verdicts.retry_later)
    job_id = await _enqueue(database, kind)
    async with database.session(writes=True) as session, session.begin():
        (await session.get_one(Job, job_id)).attempts = 2  # two attempts made already, of three
    async with working(database, [kind]):
        await eventually(lambda: _state_is(database, job_id, JobState.DEAD))
    assert (await job_of(database, job_id)).attempts == 3


async def test_give_up_leaves_the_job_dead_at_once_with_its_reason(database: Database) -> None:
    verdicts = Verdicts()
    kind = _kind("test.give-up", verdicts.give_up)
    job_id = await _enqueue(database, kind)
    async with working(database, [kind]):
        await eventually(lambda: _state_is(database, job_id, JobState.DEAD))
    job = await job_of(database, job_id)
    assert (job.attempts, job.max_attempts) == (1, 3)
    assert job.last_error == "GiveUp: the upstream refused the request for good"
    assert len(verdicts.contexts) == 1
