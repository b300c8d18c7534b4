"""The pool hands connections out first come, first served (core/fair_pool.py).

The queue's order is pinned where it is decided, in the queue itself, with strings standing in for connections:
three requests wait, a connection comes back, and a fourth request asks before the first waiter has run again.
SQLAlchemy's own queue lets the newcomer take it; the fair queue gives it to the first waiter.
"""

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.util import greenlet_spawn
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty, Full, QueueCommon

from app.core.context import AppContext
from app.core.fair_pool import FairAsyncQueue, FairAsyncQueuePool

type Served = list[tuple[str, str]]


async def _let_waiters_settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def _ask(queue: QueueCommon[str], name: str, served: Served) -> asyncio.Task[None]:
    async def ask() -> None:
        served.append((name, await greenlet_spawn(queue.get, True, 5.0)))

    return asyncio.create_task(ask())


async def _newcomer_arrives_as_a_connection_comes_back(queue: QueueCommon[str]) -> Served:
    served: Served = []
    waiting = [_ask(queue, "first waiter", served), _ask(queue, "second waiter", served)]
    await _let_waiters_settle()
    newcomer = _ask(queue, "newcomer", served)  # runs before the woken waiter does
    queue.put_nowait("connection 1")
    await _let_waiters_settle()
    queue.put_nowait("connection 2")
    await _let_waiters_settle()
    queue.put_nowait("connection 3")
    await asyncio.gather(*waiting, newcomer)
    return served


async def test_a_connection_that_comes_back_goes_to_the_longest_waiter() -> None:
    served = await _newcomer_arrives_as_a_connection_comes_back(FairAsyncQueue[str](maxsize=1))

    assert served == [
        ("first waiter", "connection 1"),
        ("second waiter", "connection 2"),
        ("newcomer", "connection 3"),
    ]


async def test_sqlalchemys_own_queue_lets_a_newcomer_pass_the_waiters() -> None:
    """Why the pool has a queue of its own; when this fails, SQLAlchemy's queue is fair and core/fair_pool.py can
    go."""
    served = await _newcomer_arrives_as_a_connection_comes_back(AsyncAdaptedQueue[str](maxsize=1))

    assert served[0] == ("newcomer", "connection 1")
    assert served[-1] == ("first waiter", "connection 3")  # woken, found nothing, queued again at the back


async def test_a_waiter_that_gives_up_leaves_the_line() -> None:
    queue = FairAsyncQueue[str](maxsize=1)

    with pytest.raises(Empty):
        await greenlet_spawn(queue.get, True, 0.01)

    queue.put_nowait("connection")
    assert queue.qsize() == 1  # kept for the next request, not handed to the waiter that left
    assert await greenlet_spawn(queue.get, True, 0.01) == "connection"


async def test_a_connection_handed_to_a_request_cancelled_meanwhile_goes_to_the_next_waiter() -> None:
    queue = FairAsyncQueue[str](maxsize=1)
    served: Served = []
    first, second = _ask(queue, "first waiter", served), _ask(queue, "second waiter", served)
    await _let_waiters_settle()

    queue.put_nowait("connection")  # handed to the first waiter, which is cancelled before it runs
    first.cancel()
    await asyncio.gather(first, second, return_exceptions=True)

    assert first.cancelled()
    assert served == [("second waiter", "connection")]


async def test_a_full_queue_refuses_a_connection_nobody_waits_for() -> None:
    queue = FairAsyncQueue[str](maxsize=1)
    queue.put_nowait("kept")
    with pytest.raises(Full):
        queue.put_nowait("one too many")  # the pool closes an overflow connection it cannot keep
    assert queue.full()


async def test_the_app_pools_its_connections_in_the_fair_queue(context: AppContext) -> None:
    assert isinstance(context.database.engine.sync_engine.pool, FairAsyncQueuePool)


async def test_a_request_that_waits_past_the_pool_timeout_gets_sqlalchemys_timeout(database_url: str) -> None:
    engine = create_async_engine(
        database_url, poolclass=FairAsyncQueuePool, pool_size=1, max_overflow=0, pool_timeout=0.05
    )
    try:
        async with engine.connect() as held:
            with pytest.raises(PoolTimeoutError):
                await engine.connect()
            assert (await held.execute(text("SELECT 1"))).scalar_one() == 1
        async with engine.connect() as next_one:  # the connection is back, and nobody waits in a dead line
            assert (await next_one.execute(text("SELECT 2"))).scalar_one() == 2
    finally:
        await engine.dispose()
