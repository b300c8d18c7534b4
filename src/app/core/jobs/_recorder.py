"""Group commit of succeeded attempts: one statement records every success that finished while the previous one was
being written. An idle worker writes each at once; a busy one writes many per round trip, with no timer to wait for.
"""

import asyncio

import structlog

from app.core.database import Database
from app.core.jobs import _store
from app.core.jobs._store import Claimed

__all__ = ["SuccessRecorder"]

_log = structlog.get_logger("app.jobs")


class SuccessRecorder:
    """Writes a worker's succeeded attempts, batched while a write is in flight."""

    def __init__(self, database: Database, worker: str) -> None:
        self._database = database
        self._worker = worker
        self._waiting: list[tuple[Claimed, asyncio.Future[bool | None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, job: Claimed) -> bool | None:
        """Whether the attempt was recorded as succeeded (False: its claim was lost, the lease having run out and
        the job being another worker's; None: it could not be written, so the lease expires and it runs again)."""
        written: asyncio.Future[bool | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name=f"jobs-recorder {self._worker}")
        return await written

    async def drain(self) -> None:
        """Until every success handed in is written (also those whose waiter was cancelled)."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            held: set[int] | None = None
            try:
                # One statement, atomic by itself: sent without BEGIN/COMMIT, in an autocommitting session.
                async with self._database.session(writes=False) as session:
                    held = await _store.succeed(session, [job for job, _ in batch], worker=self._worker)
            except Exception:  # noqa: BLE001 - unrecorded, the leases expire and the jobs run again (at least once)
                _log.warning("job_outcome_not_recorded", outcome="job_succeeded", count=len(batch), exc_info=True)
            for job, written in batch:
                if not written.done():  # its waiter may have been cancelled (a stop past the shutdown bound)
                    written.set_result(None if held is None else job.id in held)
