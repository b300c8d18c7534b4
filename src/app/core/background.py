"""Background work that a shutdown does not cut off in the middle of a database call."""

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["RunToEnd"]


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
