"""Periodic jobs: every worker enqueues each tick, one insert per tick gets through, and each tick runs once."""

from datetime import UTC, datetime, timedelta

import pytest

from app.config import Settings
from app.core.database import Database
from app.core.jobs import Cron, Every, JobState, Periodic
from tests.support.jobs import Note, Recorder, all_jobs, recording_type, working
from tests.support.polling import eventually

NOON = datetime(2026, 12, 7, 12, 3, 20, tzinfo=UTC)


def test_cron_ticks_are_computed_in_utc() -> None:
    assert Cron("*/5 * * * *").after(NOON) == datetime(2026, 12, 7, 12, 5, tzinfo=UTC)
    assert Cron("0 3 * * *").after(NOON) == datetime(2026, 12, 8, 3, 0, tzinfo=UTC)
    on_a_tick = datetime(2026, 12, 7, 12, 5, tzinfo=UTC)
    assert Cron("*/5 * * * *").after(on_a_tick) == on_a_tick + timedelta(minutes=5)  # strictly after
    with pytest.raises(ValueError, match="invalid cron expression"):
        Cron("every day")


def test_periods_are_aligned_to_the_epoch_so_that_every_worker_agrees() -> None:
    assert Every(seconds=60).after(NOON) == datetime(2026, 12, 7, 12, 4, tzinfo=UTC)
    assert Every(seconds=0.5).after(NOON) == NOON + timedelta(seconds=0.5)
    with pytest.raises(ValueError, match="positive"):
        Every(seconds=0)


async def test_two_workers_run_each_tick_once(database: Database, settings: Settings) -> None:
    recorder = Recorder()
    kind = recording_type(recorder, name="test.tick")
    ticking = Periodic(job_type=kind, schedule=Every(seconds=0.3), payload=Note(text="tick"))
    other = Database(settings)
    try:
        async with working(database, [], periodic=[ticking]), working(other, [kind], periodic=[ticking]):
            await eventually(lambda: len(recorder.runs) >= 4, seconds=30)
    finally:
        await other.dispose()
    jobs = await all_jobs(database)
    keys = [job.unique_key for job in jobs]
    assert len(keys) == len(set(keys))  # one job per tick, though both workers enqueued each
    assert all(key == f"test.tick@{job.run_at.isoformat()}" for key, job in zip(keys, jobs, strict=True))
    assert all(round(job.run_at.timestamp() * 1000) % 300 == 0 for job in jobs)  # on the period's ticks
    finished = [job for job in jobs if job.state == JobState.SUCCEEDED]
    assert recorder.runs == {job.id: 1 for job in finished}
    assert recorder.payloads[0] == Note(text="tick")
