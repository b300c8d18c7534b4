"""Waiting for something another thread, process or instance does: poll until it holds, fail if it never does.

`eventually` takes a plain predicate or a coroutine function, so that a condition may itself make a request.
It returns the seconds it took, which tests that promise a deadline compare against it.
"""

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

import httpx

__all__ = ["eventually", "until_status"]


async def eventually(
    predicate: Callable[[], bool | Awaitable[bool]],
    *,
    seconds: float = 10.0,
    interval: float = 0.02,
    message: str = "condition not met",
) -> float:
    """Seconds until `predicate()` is true, checked every `interval`; AssertionError(`message`) after `seconds`."""
    started = time.monotonic()
    while True:
        outcome = predicate()
        if await outcome if inspect.isawaitable(outcome) else outcome:
            return time.monotonic() - started
        assert time.monotonic() - started < seconds, f"{message} within {seconds} s"
        await asyncio.sleep(interval)


async def until_status(http: httpx.AsyncClient, url: str, status: int, *, seconds: float = 10.0) -> float:
    """Seconds until GET `url` answers `status`."""

    async def answers() -> bool:
        return (await http.get(url)).status_code == status

    return await eventually(answers, seconds=seconds, message=f"{url} never answered {status}")
