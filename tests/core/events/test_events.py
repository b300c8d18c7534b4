"""Events are recorded with the write they describe, and their subscribers' jobs with them (SQLite and PostgreSQL)."""

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from app.config import Settings
from app.core.database import Database
from app.core.events import ANY_EVENT, Event, EventMessage, Events, Subscriptions
from app.core.jobs import Job, JobContext, JobRegistry, JobType, enqueue
from tests.support.jobs import NO_WAIT, Note, working
from tests.support.polling import eventually


class Received:
    def __init__(self) -> None:
        self.messages: list[EventMessage] = []
        self.job_ids: list[int] = []

    async def handle(self, message: EventMessage, context: JobContext) -> None:
        self.messages.append(message)
        self.job_ids.append(context.job_id)


def _subscriber(received: Received, name: str) -> JobType[EventMessage]:
    return JobType(name=name, payload=EventMessage, handler=received.handle, max_attempts=1, backoff=NO_WAIT)


async def _events(database: Database) -> list[Event]:
    async with database.session(writes=False) as session:
        return list((await session.scalars(select(Event).order_by(Event.id))).all())


async def _jobs(database: Database) -> list[Job]:
    async with database.session(writes=False) as session:
        return list((await session.scalars(select(Job).order_by(Job.id))).all())


async def test_a_rolled_back_write_leaves_neither_event_nor_job(database: Database) -> None:
    events = Events(Subscriptions({"test.happened": [_subscriber(Received(), "test.on-happened")]}))
    async with database.session(writes=True) as session, session.begin():
        await events.record(session, "test.happened", {"id": 1})
        await session.rollback()
    assert await _events(database) == []
    assert await _jobs(database) == []


async def test_a_committed_write_leaves_the_event_and_a_job_per_subscriber(database: Database) -> None:
    first, second = _subscriber(Received(), "test.first"), _subscriber(Received(), "test.second")
    events = Events(Subscriptions({"test.happened": [first, second], "test.other": [first]}))
    async with database.session(writes=True) as session, session.begin():
        recorded = await events.record(session, "test.happened", {"id": 7, "name": "seven"})
    [event] = await _events(database)
    assert (event.id, event.type, event.data) == (recorded.id, "test.happened", {"id": 7, "name": "seven"})
    assert isinstance(event.occurred_at, datetime)
    jobs = await _jobs(database)
    assert [job.type for job in jobs] == ["test.first", "test.second"]
    payload: dict[str, Any] = jobs[0].payload
    assert (payload["id"], payload["type"], payload["data"]) == (event.id, "test.happened", {"id": 7, "name": "seven"})


async def test_an_event_without_subscribers_is_still_recorded(database: Database) -> None:
    events = Events(Subscriptions({"test.other": [_subscriber(Received(), "test.on-other")]}))
    async with database.session(writes=True) as session, session.begin():
        await events.record(session, "test.unwatched", {"id": 3})
    assert [(e.type, e.data) for e in await _events(database)] == [("test.unwatched", {"id": 3})]
    assert await _jobs(database) == []


async def test_a_subscriber_runs_with_the_recorded_event(database: Database) -> None:
    received = Received()
    kind = _subscriber(received, "test.on-happened")
    events = Events(Subscriptions({"test.happened": [kind]}))
    async with database.session(writes=True) as session, session.begin():
        event = await events.record(session, "test.happened", {"id": 9})
    async with working(database, [kind]):
        await eventually(lambda: len(received.messages) == 1)
    [message] = received.messages
    assert (message.id, message.type, message.data) == (event.id, "test.happened", {"id": 9})


def test_subscribed_job_types_are_listed_once_and_run_by_the_registry() -> None:
    first, second = _subscriber(Received(), "test.first"), _subscriber(Received(), "test.second")
    subscriptions = Subscriptions({"test.a": [first, second], "test.b": [second, second]})
    assert subscriptions.of("test.b") == (second,)
    assert subscriptions.of("test.none") == ()
    assert [kind.name for kind in subscriptions.job_types] == ["test.first", "test.second"]
    assert JobRegistry(subscriptions.job_types).names == ["test.first", "test.second"]


def test_two_subscribers_of_one_event_with_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="subscribed job types share a name"):
        Subscriptions({"test.a": [_subscriber(Received(), "test.x"), _subscriber(Received(), "test.x")]})


def test_a_subscriber_of_any_event_follows_each_type_s_own() -> None:
    own, every = _subscriber(Received(), "test.own"), _subscriber(Received(), "test.every")
    subscriptions = Subscriptions({"test.a": [own], ANY_EVENT: [every, own]})
    assert subscriptions.of("test.a") == (own, every)
    assert subscriptions.of("test.unheard-of") == (every, own)
    assert [kind.name for kind in subscriptions.job_types] == ["test.own", "test.every"]


async def test_an_event_is_never_recorded_as_any_event(database: Database) -> None:
    events = Events(Subscriptions())
    async with database.session(writes=True) as session, session.begin():
        for wrong in ("", ANY_EVENT, "x" * 101):
            with pytest.raises(ValueError, match="an event type has"):
                await events.record(session, wrong, {})


async def test_a_job_records_events_that_feed_the_app_s_subscribers(database: Database, settings: Settings) -> None:
    received, contexts = Received(), []

    async def note(payload: Note, context: JobContext) -> None:
        contexts.append(context)
        async with context.database.session(writes=True) as session, session.begin():
            await context.events.record(session, "test.noted", {"text": payload.text})

    noting = JobType(name="test.note", payload=Note, handler=note, max_attempts=1)
    on_noted = _subscriber(received, "test.on-noted")
    events = Events(Subscriptions({"test.noted": [on_noted]}))
    async with database.session(writes=True) as session, session.begin():
        await enqueue(session, noting, Note(text="from a job"))
    async with working(database, [noting, on_noted], events=events, settings=settings):
        await eventually(lambda: len(received.messages) == 1)
    [context] = contexts
    assert (context.events, context.settings) == (events, settings)
    assert (received.messages[0].type, received.messages[0].data) == ("test.noted", {"text": "from a job"})
    assert [event.type for event in await _events(database)] == ["test.noted"]
