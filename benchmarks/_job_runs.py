"""Reading what the workers recorded (benchmarks/_job_workers.py), CPU time from /proc, and waiting."""

import asyncio
import os
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["WARM_UP_KEYS", "Runs", "cpu_seconds", "free_port", "lines_written", "read_runs", "until"]

WARM_UP_KEYS = 1_000_000_000  # keys of the warm-up jobs, apart from the measured ones

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Runs:
    """Every recorded run: how often each key ran, its first start, its last end, and the runs per process."""

    count: Counter[int] = field(default_factory=Counter)
    first_start: dict[int, int] = field(default_factory=dict)
    last_end: dict[int, int] = field(default_factory=dict)
    by_process: Counter[int] = field(default_factory=Counter)  # measured runs (not warm-ups) per process

    def ran(self, keys: range) -> int:
        """How many of `keys` ran at least once."""
        return sum(1 for key in keys if key in self.count)

    @property
    def repeated(self) -> int:
        return sum(1 for n in self.count.values() if n > 1)

    def span(self, keys: range) -> tuple[int, int]:
        """The first start and the last end among `keys` (ns)."""
        return min(self.first_start[key] for key in keys), max(self.last_end[key] for key in keys)


def lines_written(prefix: str) -> dict[int, int]:
    """The runs recorded so far by each process, counted cheaply: polled while the workers run, on the cores they
    need."""
    return {int(path.suffix[1:]): path.read_bytes().count(b"\n") for path in _files(prefix)}


def _files(prefix: str) -> list[Path]:
    """The records of every process: `<prefix>.<pid>`."""
    where = Path(prefix)
    return [path for path in where.parent.glob(f"{where.name}.*") if path.suffix[1:].isdigit()]


def read_runs(prefix: str) -> Runs:
    runs = Runs()
    for path in _files(prefix):
        pid = int(path.suffix[1:])
        for line in path.read_text().splitlines(keepends=True):
            if not line.endswith("\n"):
                continue  # being written
            key, start, end = map(int, line.split())
            runs.count[key] += 1
            if key < WARM_UP_KEYS:
                runs.by_process[pid] += 1
            runs.first_start[key] = min(start, runs.first_start.get(key, start))
            runs.last_end[key] = max(end, runs.last_end.get(key, end))
    return runs


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU time of the living processes among `pids`, from /proc."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / _CLOCK_TICKS


async def until(condition: Callable[[], Awaitable[bool]], seconds: float, failure: str) -> None:
    """Poll `condition` until it holds; end the run with `failure` if it does not within `seconds`."""
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"{failure} within {seconds:.0f} s")
        await asyncio.sleep(0.02)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
