"""PostgreSQL wakes an idle worker with LISTEN/NOTIFY: a job committed while the worker sleeps (polling once a
minute) starts at once. Only a committed enqueue notifies."""

import pytest
from sqlalchemy import text

from app.config import Settings
from app.core.database import Database
from app.core.jobs import enqueue
from tests.support.jobs import Note, Recorder, recording_type, working
from tests.support.polling import eventually

_LISTENERS = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'")


async def _listening(database: Database) -> bool:
    async with database.session(writes=False) as session:
        return bool((await session.execute(_LISTENERS)).scalar_one() > 0)


async def test_a_committed_job_wakes_an_idle_worker(database: Database, settings: Settings) -> None:
    if settings.is_sqlite:
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite workers poll")
    recorder = Recorder()
    kind = recording_type(recorder)
    async with working(database, [kind], poll_seconds=600, listen_url=settings.database_url):
        await eventually(lambda: _listening(database))
        async with database.session(writes=True) as session, session.begin():
            await enqueue(session, kind, Note(text="first"))
        await eventually(lambda: len(recorder.payloads) == 1)
        async with database.session(writes=True) as session, session.begin():
            await enqueue(session, kind, Note(text="second"))
        await eventually(lambda: len(recorder.payloads) == 2)
    assert [payload.text for payload in recorder.payloads] == ["first", "second"]
