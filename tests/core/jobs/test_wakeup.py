"""PostgreSQL wakes an idle worker with LISTEN/NOTIFY: a job committed while the worker sleeps (polling once a
minute) starts at once. Only a committed enqueue notifies."""

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

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
            await enqueue(session, kind, Note(text="woken"))
        await eventually(lambda: len(recorder.payloads) == 1)
    assert recorder.payloads == [Note(text="woken")]


async def test_each_committed_transaction_notifies_and_a_rolled_back_one_does_not(
    database: Database, settings: Settings
) -> None:
    if settings.is_sqlite:
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    kind = recording_type(Recorder())
    payloads: list[str] = []
    dsn = make_url(settings.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    listener = await asyncpg.connect(dsn)
    try:
        await listener.add_listener("forge_jobs", lambda *args: payloads.append(args[3]))
        async with database.session(writes=True) as session:  # one session, four transactions
            async with session.begin():
                await enqueue(session, kind, Note(text="one"))
                await enqueue(session, kind, Note(text="two"))
            async with session.begin():
                await enqueue(session, kind, Note(text="three"))
            async with session.begin():
                await enqueue(session, kind, Note(text="rolled back"))
                await session.rollback()
            async with session.begin():
                await enqueue(session, kind, Note(text="four"))
        # Notifications arrive in commit order: once this one is here, every earlier one is.
        await listener.execute("NOTIFY forge_jobs, 'barrier'")
        await eventually(lambda: "barrier" in payloads)
    finally:
        await listener.close()
    assert payloads == ["", "", "", "barrier"]
