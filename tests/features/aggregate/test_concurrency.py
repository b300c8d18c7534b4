"""fetch_with_timeout and gather_all_or_nothing: results by name, or errors after every sibling has finished."""

import asyncio

import pytest

from app.features.aggregate.concurrency import fetch_with_timeout, gather_all_or_nothing


async def _value[T](value: T) -> T:
    await asyncio.sleep(0)
    return value


async def test_gather_returns_every_result_by_name() -> None:
    assert await gather_all_or_nothing({"a": _value(1), "b": _value(2)}) == {"a": 1, "b": 2}
    assert await gather_all_or_nothing({}) == {}


async def test_a_failure_cancels_the_others_and_waits_for_them_before_raising() -> None:
    started = asyncio.Event()
    cleaned_up = asyncio.Event()

    async def forever() -> int:
        try:
            started.set()
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # cleanup that itself awaits still runs to the end
            cleaned_up.set()
        return 0  # pragma: no cover - never reached

    async def failing() -> int:
        await started.wait()
        msg = "boom"
        raise ValueError(msg)

    with pytest.raises(ExceptionGroup) as caught:
        await gather_all_or_nothing({"forever": forever(), "failing": failing()})
    assert [type(e) for e in caught.value.exceptions] == [ValueError]  # the cancellation is not an error
    assert cleaned_up.is_set()  # before the error reached us, not later
    assert not [t for t in asyncio.all_tasks() if t.get_name() in {"forever", "failing"}]


async def test_fetch_with_timeout_returns_the_value_in_time() -> None:
    assert await fetch_with_timeout(_value("ok"), seconds=5) == "ok"


async def test_fetch_with_timeout_cancels_at_the_deadline_and_raises_timeout_error() -> None:
    cancelled = asyncio.Event()

    async def slow() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError):
        await fetch_with_timeout(slow(), seconds=0.01)
    assert cancelled.is_set()


async def test_a_deadline_around_a_gather_cancels_every_member() -> None:
    cancelled: list[str] = []

    async def slow(name: str) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    with pytest.raises(TimeoutError):
        await fetch_with_timeout(gather_all_or_nothing({"a": slow("a"), "b": slow("b")}), seconds=0.01)
    assert sorted(cancelled) == ["a", "b"]
