"""Old events are purged by a built-in periodic job, FORGE_EVENTS_RETENTION_DAYS after they occurred (SQLite and
PostgreSQL); 0 keeps them."""

from datetime import timedelta

from sqlalchemy import select, update

from app.config import Settings
from app.core.database import Database, utcnow
from app.core.events import Event, Events, PurgeEvents, Subscriptions, purge_events, purge_events_before
from app.core.jobs import Every, Job, JobState, Periodic
from app.jobs import job_registry
from tests.support.jobs import working
from tests.support.polling import eventually
from tests.support.settings import make_settings


async def _record(database: Database, count: int, *, days_ago: float) -> list[int]:
    """`count` events, as if they had occurred `days_ago` days ago."""
    async with database.session(writes=True) as session, session.begin():
        ids = [(await Events(Subscriptions()).record(session, "test.aged", {"n": n})).id for n in range(count)]
        occurred = utcnow() - timedelta(days=days_ago)
        await session.execute(update(Event).where(Event.id.in_(ids)).values(occurred_at=occurred))
    return ids


async def _remaining(database: Database) -> list[int]:
    async with database.session(writes=False) as session:
        return list((await session.scalars(select(Event.id).order_by(Event.id))).all())


async def test_only_events_older_than_the_retention_are_deleted_in_batches(database: Database) -> None:
    old = await _record(database, 7, days_ago=31)
    recent = await _record(database, 2, days_ago=29)
    assert await purge_events_before(database, retention=timedelta(days=30), batch=3) == len(old)
    assert await _remaining(database) == recent
    assert await purge_events_before(database, retention=timedelta(days=30)) == 0  # nothing left to do


async def test_an_old_event_behind_a_newer_one_waits_but_nothing_newer_is_deleted(database: Database) -> None:
    # Ids grow with time, but another host's clock may write a later time under a smaller id: the purge stops at
    # the first event within the retention and never deletes one.
    [_, newer, *behind] = await _record(database, 4, days_ago=40)
    async with database.session(writes=True) as session, session.begin():
        await session.execute(update(Event).where(Event.id == newer).values(occurred_at=utcnow()))
    assert await purge_events_before(database, retention=timedelta(days=30)) == 1
    assert await _remaining(database) == [newer, *behind]


async def test_everything_older_is_deleted_when_no_event_is_recent(database: Database) -> None:
    await _record(database, 3, days_ago=2)
    assert await purge_events_before(database, retention=timedelta(days=1)) == 3
    assert await _remaining(database) == []
    assert await purge_events_before(database, retention=timedelta(days=1)) == 0  # an empty table


async def test_the_purge_runs_as_a_periodic_job_once_per_tick(database: Database) -> None:
    old = await _record(database, 2, days_ago=10)
    recent = await _record(database, 1, days_ago=1)
    every_tenth = Periodic(job_type=purge_events, schedule=Every(seconds=0.1), payload=PurgeEvents(retention_days=7))
    async with working(database, [], periodic=[every_tenth]):
        await eventually(lambda: _purged(database, old))
    assert await _remaining(database) == recent
    async with database.session(writes=False) as session:
        ran = (await session.scalars(select(Job).where(Job.type == "events.purge"))).all()
    assert ran
    assert {job.state for job in ran} <= {JobState.SUCCEEDED, JobState.QUEUED, JobState.RUNNING}


async def _purged(database: Database, ids: list[int]) -> bool:
    return not set(ids) & set(await _remaining(database))


def test_the_app_s_workers_purge_hourly_with_the_configured_retention(settings: Settings) -> None:
    retained = make_settings(settings.database_url, events_retention_days=45)
    [purge] = [entry for entry in job_registry(retained).periodic if entry.job_type is purge_events]
    assert purge.payload == PurgeEvents(retention_days=45)
    ticks = [purge.schedule.after(utcnow())]
    ticks.append(purge.schedule.after(ticks[0]))
    assert ticks[1] - ticks[0] == timedelta(hours=1)
    assert job_registry(retained).get("events.purge") is purge_events
    kept = make_settings(settings.database_url, events_retention_days=0)
    assert job_registry(kept).get("events.purge") is None
    assert all(entry.job_type is not purge_events for entry in job_registry(kept).periodic)
