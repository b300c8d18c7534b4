"""Background work beside the requests (a periodic check, a subscription, a publish) that a shutdown stops
without cutting off a database call in the middle."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

__all__ = ["BackgroundLoops", "RunToEnd", "every"]


class RunToEnd:
    """Runs each piece of work in a task of its own, which a cancelled caller does not cancel, and waits for them
    all at shutdown (`finish`).

    A background loop (a registry check, a cache's version read) is stopped by cancelling it, and that may happen
    while it is inside the database driver. Cut off there, the call leaves its connection checked out of the pool:
    neither SQLAlchemy nor the driver can return it, and the garbage collector reports it much later (an
    `SAWarning` that fails whichever test is running). So the loop is cancelled while it waits, and the call it
    had started runs to its end, before the engine is disposed.
    """

    __slots__ = ("_running",)

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()

    async def run[T](self, work: Coroutine[Any, Any, T]) -> T:
        task = asyncio.get_running_loop().create_task(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return await asyncio.shield(task)

    async def finish(self) -> None:
        """Wait for the work still running (its errors are its caller's, who was cancelled: not raised here)."""
        await asyncio.gather(*self._running, return_exceptions=True)


class BackgroundLoops:
    """A component's background tasks and the reads they start: `stop` cancels the tasks, then lets every read
    started through `read` finish (RunToEnd)."""

    __slots__ = ("_reads", "_tasks")

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._reads = RunToEnd()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def read[T](self, work: Coroutine[Any, Any, T]) -> T:
        return await self._reads.run(work)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._reads.finish()


async def every(
    seconds: float, check: Callable[[], Awaitable[object]], *, warn: Callable[..., object], failed: str
) -> None:
    """Run `check` every `seconds` until cancelled; a failure is logged (`warn(failed)`) and tried again at the
    next tick."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await check()
        except Exception:  # noqa: BLE001 - a failed check is retried at the next tick
            warn(failed, exc_info=True)
