"""Structured concurrency: a deadline around an awaitable, and all-or-nothing gathering of named coroutines.

Both are thin on purpose: `asyncio.timeout` and `asyncio.TaskGroup` already do the hard part (cancelling, waiting
for the cancelled, never leaving a task behind). Unlike `asyncio.gather`, a failure here cancels the siblings and
waits until they have finished before the caller sees it, so no request outlives the request that made it.
"""

import asyncio
from collections.abc import Awaitable, Coroutine, Mapping
from typing import Any

__all__ = ["fetch_with_timeout", "gather_all_or_nothing"]


async def fetch_with_timeout[T](awaitable: Awaitable[T], *, seconds: float) -> T:
    """Await `awaitable`, cancelling it after `seconds`: then `TimeoutError` (the builtin) is raised.

    The cancellation has completed (the awaitable's `finally` blocks and `async with` exits have run) when the
    error reaches the caller.
    """
    async with asyncio.timeout(seconds):
        return await awaitable


async def gather_all_or_nothing[T](coroutines: Mapping[str, Coroutine[Any, Any, T]]) -> dict[str, T]:
    """Run the named coroutines concurrently; return every result by name, or raise.

    The moment one raises, the others are cancelled, and once all have finished the failures (usually one, more
    when several fail at the same moment) are raised together as an `ExceptionGroup`: catch them with `except*`.
    Cancellation of the caller cancels every coroutine too. Tasks are named after their keys (in task dumps).
    """
    # Every task is created before any of them runs (create_task does not yield), so none is left unscheduled.
    async with asyncio.TaskGroup() as group:
        tasks = {name: group.create_task(coroutine, name=name) for name, coroutine in coroutines.items()}
    return {name: task.result() for name, task in tasks.items()}
