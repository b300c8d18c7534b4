"""PostgreSQL LISTEN on the queue's channel: a dedicated asyncpg connection that wakes an idle worker at once.

Only a hint: a worker also polls, so a lost connection (reconnected with a pause) or a lost notification delays a
job by at most the poll interval, and never loses one.
"""

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import structlog
from sqlalchemy.engine import make_url

from app.core.jobs._store import NOTIFY_CHANNEL

__all__ = ["Listener"]

_RECONNECT_SECONDS = 2.0
_log = structlog.get_logger("app.jobs")


def _asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """Calls `wake()` on every notification of the channel, for as long as `run()` runs."""

    def __init__(self, database_url: str, wake: Callable[[], None], *, connect_timeout: float) -> None:
        self._dsn = _asyncpg_dsn(database_url)
        self._wake = wake
        self._connect_timeout = connect_timeout

    def _on_notification(self, *_args: Any) -> None:
        self._wake()

    async def run(self) -> None:
        while True:
            try:
                await self._listen_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                _log.warning("job_listener_lost", error=type(exc).__name__)
            await asyncio.sleep(_RECONNECT_SECONDS)

    async def _listen_once(self) -> None:
        connection = await asyncpg.connect(self._dsn, timeout=self._connect_timeout)
        closed = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _connection: closed.set())
            await connection.add_listener(NOTIFY_CHANNEL, self._on_notification)
            self._wake()  # anything enqueued while this connection was down
            await closed.wait()
        finally:
            if not connection.is_closed():
                connection.terminate()  # synchronous: also safe while the task is being cancelled
