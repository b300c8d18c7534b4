"""The queue's guarantees under two real worker processes (issue 18): counted, not timed.

1. Exactly once when handlers succeed: 2 `forge worker`-configured processes, N jobs enqueued in one transaction;
   every job runs once (its runs counted from the workers' records) and is recorded succeeded.
2. A worker SIGKILLed mid-run: both run with a short lease (6 s, reaped every 0.5 s); the first to have run an eighth
   of the jobs is killed; every job still runs (at least once) and is recorded succeeded.
"""

import asyncio
import os
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from benchmarks._job_queues import ForgeAPIPostgres
from benchmarks._job_runs import Runs, lines_written, read_runs, until

__all__ = ["check_exactly_once", "check_sigkill"]

_TIMEOUT = 300.0


def _all_succeeded(forge: ForgeAPIPostgres, jobs: int) -> Callable[[], Awaitable[bool]]:
    async def condition() -> bool:
        return await forge.succeeded() >= jobs

    return condition


def _histogram(runs: Runs, jobs: int) -> str:
    times = Counter(runs.count.get(key, 0) for key in range(jobs))
    return ", ".join(f"{count:,} ran {n}x" for n, count in sorted(times.items()))


def _per_process(runs: Runs, pids: list[int]) -> str:
    return " / ".join(f"{runs.by_process.get(pid, 0):,}" for pid in pids)


async def check_exactly_once(forge: ForgeAPIPostgres, jobs: int, folder: Path) -> bool:
    await forge.empty()
    records = str(folder / "check-once")
    with forge.workers(2, records, folder / "check-once.log") as pids:
        warm_up = await forge.warm_up(records, pids)
        await forge.enqueue_burst(range(jobs))
        await until(_all_succeeded(forge, warm_up + jobs), _TIMEOUT, "not every job succeeded")
    runs = read_runs(records)
    held = runs.ran(range(jobs)) == jobs and runs.repeated == 0
    both = "" if all(runs.by_process.get(pid) for pid in pids) else "; one process ran none, so this run shows less"
    print(
        f"  exactly once: {'held' if held else 'FAILED'}: {jobs:,} jobs succeeded, {_histogram(runs, jobs)} "
        f"(runs per process {_per_process(runs, pids)}{both})"
    )
    return held


async def check_sigkill(forge: ForgeAPIPostgres, jobs: int, folder: Path) -> bool:
    await forge.empty()
    records = str(folder / "check-kill")
    with forge.workers(2, records, folder / "check-kill.log", extra=("--short-lease",)) as pids:
        warm_up = await forge.warm_up(records, pids)
        before = lines_written(records)
        await forge.enqueue_burst(range(jobs))
        victim = 0

        async def one_busy() -> bool:
            """Whether a worker has run an eighth of the jobs: the first to get there is the one killed."""
            nonlocal victim
            ran = lines_written(records)
            victim = next((pid for pid in pids if (ran.get(pid, 0) - before.get(pid, 0)) * 8 >= jobs), 0)
            return victim != 0

        await until(one_busy, _TIMEOUT, "no worker ran an eighth of the jobs")
        os.kill(victim, signal.SIGKILL)
        unfinished = warm_up + jobs - await forge.succeeded()
        await asyncio.sleep(0.5)
        victim_runs = lines_written(records)[victim] - before.get(victim, 0)
        await until(_all_succeeded(forge, warm_up + jobs), _TIMEOUT, "not every job succeeded after the SIGKILL")
    runs = read_runs(records)
    held = runs.ran(range(jobs)) == jobs and unfinished > 0
    print(
        f"  SIGKILL mid-run: {'held' if held else 'FAILED'}: one worker killed after {victim_runs:,} runs, with "
        f"{unfinished:,} jobs not yet succeeded; then {jobs:,} of {jobs:,} succeeded, {_histogram(runs, jobs)} "
        f"(runs by the killed worker / the other {_per_process(runs, sorted(pids, key=lambda pid: pid != victim))})"
    )
    return held
