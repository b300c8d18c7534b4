"""The directory where the workers of one server keep their metrics: made ready before they start, for one run."""

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.core.metrics._shard import SHARD_SUFFIX

__all__ = ["MetricsDirectoryInUseError", "server_metrics_directory"]

_LOCK = "server.lock"
_SHARED_MEMORY = Path("/dev/shm")  # noqa: S108 - a directory of our own is made inside it, by mkdtemp


class MetricsDirectoryInUseError(RuntimeError):
    """Another running server keeps its metrics in the directory: sharing it would mix the two servers' counts."""


@contextmanager
def server_metrics_directory(configured: Path | None) -> Iterator[Path]:
    """A directory for one server run's metrics, with no file from an earlier run in it.

    `configured`: that one (created when missing; the workers' files of an earlier run deleted, nothing else);
    otherwise a new one in shared memory (the temporary directory when there is none), removed at the end. While
    the run lasts the directory is locked: a second server given the same one fails with
    `MetricsDirectoryInUseError`, instead of deleting the first one's files or counting them as its own.
    """
    directory = configured or Path(tempfile.mkdtemp(prefix="forge-metrics-", dir=_temporary_parent()))
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / _LOCK).open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            msg = f"another running server keeps its metrics in {directory}: give each server its own"
            raise MetricsDirectoryInUseError(msg) from None
        try:
            for stale in directory.glob(f"*{SHARD_SUFFIX}"):
                stale.unlink(missing_ok=True)
            yield directory
        finally:
            if configured is None:
                shutil.rmtree(directory, ignore_errors=True)


def _temporary_parent() -> Path | None:
    """tmpfs when there is one: the workers' writes then never reach a disk."""
    return _SHARED_MEMORY if _SHARED_MEMORY.is_dir() and os.access(_SHARED_MEMORY, os.W_OK | os.X_OK) else None
