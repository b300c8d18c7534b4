"""Reads on the hot path: a statement built once, run on a pooled connection that autocommits, rows back.

The request's `DBSession` suits writes: FastAPI runs a `yield` dependency inside an exit stack and a cancel scope,
and the session commits when the handler returns, which for a read is a no-op that still costs a call chain. It
also loads ORM entities into an identity map that a read-only answer never uses. Together that was about a
third of a product read's CPU (issue 21). A read-only endpoint takes `Reads` instead (`core/database.py`): a plain
`async def` dependency that returns the app's one `Reader`, with no per-request object at all.

Its repository keeps each statement as a module constant with named `bindparam`s, so SQLAlchemy neither builds it
nor computes its cache key per request (a statement memoises its own key), and finds the compiled form in the
engine's cache. The rows come back as they are, and the service validates its answer straight from them.

A read runs in one greenlet, from checkout to check-in, as SQLAlchemy runs any synchronous code under asyncio
(`greenlet_spawn`, the bridge `AsyncConnection` is built on, which it exports). `AsyncConnection` would take three:
connecting, executing, and closing, which it also runs in a task of its own so that a cancelled caller cannot
abandon it; together about a third of a read's database CPU. Closing a connection that autocommits needs no I/O
(no transaction to end), so nothing there can be abandoned: a cancelled read invalidates its connection, which the
asyncpg adapter terminates without waiting.

A read is retried once when its connection turns out dead (`DBAPIError.connection_invalidated`): the pool no
longer pings a connection before handing it out (that cost three round trips; see `core/database.py`), so a
connection that died unnoticed (no close seen by the driver yet) is found by the read itself. SQLAlchemy then
invalidates that connection and every one pooled before it, so the retry runs on a new connection. Only a read
is retried: it has no effect to repeat. A write that meets a dead connection is a 503 and writes nothing.
"""

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable
from sqlalchemy.util import greenlet_spawn

__all__ = ["Reader"]

# The synchronous connection of an async engine (`AsyncEngine.sync_engine.connect`), used inside the greenlet.
type Connect = Callable[[], AbstractContextManager[Connection]]


class Reader:
    """Runs read-only statements, each on a connection of its own from `connect` (the app's: a pooled connection
    in autocommit, one round trip per statement)."""

    __slots__ = ("_connect",)

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    async def all(self, statement: Executable, parameters: Mapping[str, Any]) -> Sequence[Row[Any]]:
        """Every row of `statement` run with `parameters`; once more on a new connection if the first was dead."""
        try:
            return await greenlet_spawn(self._run, statement, parameters)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
        return await greenlet_spawn(self._run, statement, parameters)

    async def first(self, statement: Executable, parameters: Mapping[str, Any]) -> Row[Any] | None:
        rows = await self.all(statement, parameters)
        return rows[0] if rows else None

    def _run(self, statement: Executable, parameters: Mapping[str, Any]) -> Sequence[Row[Any]]:
        with self._connect() as connection:
            return connection.execute(statement, parameters).all()
