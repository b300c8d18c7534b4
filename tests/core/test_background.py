"""`RunToEnd`: work started in the background finishes even when its caller is cancelled, and `finish` waits for it."""

import asyncio

import pytest

from app.core.background import RunToEnd


async def test_work_runs_to_its_end_when_its_caller_is_cancelled_and_finish_waits_for_it() -> None:
    work = RunToEnd()
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def inside_the_driver() -> str:
        started.set()
        await release.wait()
        finished.append("done")
        return "done"

    caller = asyncio.create_task(work.run(inside_the_driver()))
    await started.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert finished == []  # the caller is gone; the work is not

    release.set()
    await work.finish()
    assert finished == ["done"]


async def test_finish_keeps_the_works_errors_to_their_callers() -> None:
    work = RunToEnd()

    async def failing() -> None:
        raise RuntimeError

    with pytest.raises(RuntimeError):
        await work.run(failing())
    await work.finish()  # nothing left running, nothing raised
