"""ForgeAPI's job queue against procrastinate and pgqueuer on the same PostgreSQL, in one run; then the checks.

Run: `uv run python -m benchmarks.jobs [--jobs 2000] [--paced 500] [--rate 100] [--rounds 3] [--check-jobs 2000]
[--systems forge,procrastinate,pgqueuer,sqlite] [--processes 1,2] [--postgresql URL]
[--database-prefix forgeapi_bench]` (~10 minutes with the defaults).
Databases `<prefix>_jobs`, `<prefix>_procrastinate` and `<prefix>_pgqueuer` on the server at --postgresql (default
postgresql+asyncpg://postgres@127.0.0.1:5432) are created anew by the run; SQLite is a file in a temporary folder.

For each queue, with 1 and 2 worker processes (SQLite: the embedded worker of one server process), on fresh
processes every round (rounds alternate the order of the queues; medians are reported):
1. Burst: `--jobs` no-op jobs enqueued in one transaction once the workers are idle and listening. Jobs/s from the
   first job's start to the last one's end; CPU time per job of the worker processes and of the PostgreSQL server
   processes serving that database (from /proc), which the machine's other load moves less than throughput.
2. Paced: `--paced` jobs, one per transaction, at `--rate` per second (below every queue's capacity): the p50 and
   p99 of enqueue-to-start latency, from the enqueueing transaction's commit (just before COMMIT is sent; for the
   libraries' one autocommitted INSERT, just before it is sent) to the handler's start.
Then, ForgeAPI only (benchmarks/_job_checks.py): 2 workers x `--check-jobs` jobs run exactly once each, and with one
worker SIGKILLed mid-run every job still completes. The run exits 1 if a job is lost or a check fails.
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from benchmarks._job_checks import check_exactly_once, check_sigkill
from benchmarks._job_queues import ForgeAPIPostgres, ForgeAPISQLite, PgQueuer, Procrastinate, Queue
from benchmarks._job_runs import Runs, cpu_seconds, free_port, lines_written, read_runs, until

DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"
WAIT_SECONDS = 300.0


@dataclass(frozen=True)
class Measured:
    jobs_per_second: float
    worker_cpu_us: float  # per job, the worker processes
    database_cpu_us: float | None  # per job, the PostgreSQL processes of the queue's database
    p50_ms: float
    p99_ms: float


async def _wait_for_runs(queue: Queue, records: str, keys: range, recorded: int) -> Runs:
    """Until every key has run and the queue has recorded `recorded` jobs succeeded: the runs so far."""

    async def all_ran() -> bool:
        return sum(lines_written(records).values()) >= len(keys) and read_runs(records).ran(keys) == len(keys)

    async def all_recorded() -> bool:
        return await queue.succeeded() >= recorded

    await until(all_ran, WAIT_SECONDS, f"{queue.label}: not every job ran")
    await until(all_recorded, WAIT_SECONDS, f"{queue.label}: not every job recorded")
    return read_runs(records)


async def _paced(queue: Queue, keys: range, rate: float) -> dict[int, int]:
    """Enqueue `keys` one per transaction at `rate` per second: when each began to commit (ns)."""
    enqueued: dict[int, int] = {}
    start = time.monotonic()
    for index, key in enumerate(keys):
        delay = start + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        enqueued[key] = await queue.enqueue_one(key)
    return enqueued


async def _database_cpu(queue: Queue) -> dict[int, float]:
    return {pid: cpu_seconds([pid]) for pid in await queue.backend_pids()}


def _database_cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU time of the database's server processes between two readings; one that connected in between (a pool
    growing) counts from zero."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


async def measure(queue: Queue, processes: int, args: argparse.Namespace, records: str, log: Path) -> Measured:
    await queue.empty()
    burst, paced = range(args.jobs), range(args.jobs, args.jobs + args.paced)
    with queue.workers(processes, records, log) as pids:
        warm_up = await queue.warm_up(records, pids)
        await asyncio.sleep(0.5)  # idle again
        await queue.enqueue_burst(burst)
        worker_cpu, database_cpu = cpu_seconds(pids), await _database_cpu(queue)
        await _wait_for_runs(queue, records, burst, warm_up + len(burst))
        worker_cpu = cpu_seconds(pids) - worker_cpu
        database_used = _database_cpu_used(database_cpu, await _database_cpu(queue))
        enqueued = await _paced(queue, paced, args.rate)
        runs = await _wait_for_runs(queue, records, range(args.jobs + args.paced), warm_up + paced.stop)
    if runs.repeated:
        raise SystemExit(f"{queue.label}: {runs.repeated} jobs ran more than once with every handler succeeding")
    first, last = runs.span(burst)
    latencies = sorted((runs.first_start[key] - enqueued[key]) / 1e6 for key in paced)
    return Measured(
        jobs_per_second=len(burst) / ((last - first) / 1e9),
        worker_cpu_us=worker_cpu / len(burst) * 1e6,
        database_cpu_us=database_used / len(burst) * 1e6 if database_cpu else None,
        p50_ms=statistics.median(latencies),
        p99_ms=latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
    )


def _median(results: list[Measured]) -> Measured:
    database = [r.database_cpu_us for r in results if r.database_cpu_us is not None]
    return Measured(
        statistics.median(r.jobs_per_second for r in results),
        statistics.median(r.worker_cpu_us for r in results),
        statistics.median(database) if database else None,
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
    )


def _queues(args: argparse.Namespace, folder: Path) -> dict[str, Queue]:
    server = make_url(args.postgresql).set(drivername="postgresql+asyncpg")

    def database(suffix: str) -> str:
        return server.set(database=f"{args.database_prefix}_{suffix}").render_as_string(hide_password=False)

    makers: dict[str, Callable[[], Queue]] = {
        "forge": lambda: ForgeAPIPostgres(database("jobs")),
        "procrastinate": lambda: Procrastinate(database("procrastinate")),
        "pgqueuer": lambda: PgQueuer(database("pgqueuer")),
        "sqlite": lambda: ForgeAPISQLite(folder / "jobs.db", free_port()),
    }
    chosen = args.systems.split(",")
    if unknown := set(chosen) - set(makers):
        raise SystemExit(f"unknown systems: {', '.join(sorted(unknown))} (known: {', '.join(makers)})")
    return {name: make() for name, make in makers.items() if name in chosen}


def _ratio(ours: float | None, theirs: float | None) -> str:
    """CPU time is read in clock ticks (10 ms): a short run may read zero."""
    return f"{ours / theirs:.2f}" if ours is not None and theirs else "n/a"


def report(args: argparse.Namespace, measured: dict[tuple[str, int], Measured], queues: dict[str, Queue]) -> None:
    print(
        f"\n{args.jobs:,} no-op jobs per burst (one transaction); {args.paced:,} paced at {args.rate:g}/s (one per "
        f"transaction); 10 jobs in flight per process; medians of {args.rounds} round(s)"
    )
    print(
        f"  {'queue':<28} {'processes':>9} {'jobs/s':>8} {'worker CPU us/job':>17} {'PostgreSQL CPU us/job':>21} "
        f"{'p50 ms':>7} {'p99 ms':>7}"
    )
    for (name, processes), result in measured.items():
        database = f"{result.database_cpu_us:.0f}" if result.database_cpu_us is not None else "-"
        print(
            f"  {queues[name].label:<28} {processes:>9} {result.jobs_per_second:>8,.0f} {result.worker_cpu_us:>17.0f} "
            f"{database:>21} {result.p50_ms:>7.1f} {result.p99_ms:>7.1f}"
        )
    for other in ("procrastinate", "pgqueuer"):
        for processes in (1, 2):
            ours, theirs = measured.get(("forge", processes)), measured.get((other, processes))
            if ours is None or theirs is None:
                continue
            line = f"  ForgeAPI / {other}, {processes} process(es): "
            line += f"jobs/s x{_ratio(ours.jobs_per_second, theirs.jobs_per_second)}"
            line += f", worker CPU per job x{_ratio(ours.worker_cpu_us, theirs.worker_cpu_us)}"
            line += f", PostgreSQL CPU per job x{_ratio(ours.database_cpu_us, theirs.database_cpu_us)}"
            print(line)


async def run(args: argparse.Namespace) -> bool:
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        folder = Path(tmp)
        queues = _queues(args, folder)
        for queue in queues.values():
            await queue.prepare()
            await queue.open()
        try:
            results: dict[tuple[str, int], list[Measured]] = {}
            counts = [int(n) for n in args.processes.split(",")]
            configurations = [(name, n) for name in queues for n in ((1,) if name == "sqlite" else counts)]
            for round_ in range(args.rounds):
                for name, processes in configurations if round_ % 2 == 0 else reversed(configurations):
                    records = str(folder / f"{name}-{processes}-{round_}")
                    log = folder / f"{name}.log"
                    measured = await measure(queues[name], processes, args, records, log)
                    results.setdefault((name, processes), []).append(measured)
                    print(
                        f"round {round_ + 1}: {queues[name].label}, {processes} process(es): "
                        f"{measured.jobs_per_second:,.0f} jobs/s, {measured.worker_cpu_us:.0f} us worker CPU per job, "
                        f"p50 {measured.p50_ms:.1f} ms, p99 {measured.p99_ms:.1f} ms",
                        file=sys.stderr,
                    )
            report(args, {key: _median(values) for key, values in results.items()}, queues)
            if args.check_jobs and isinstance(forge := queues.get("forge"), ForgeAPIPostgres):
                print(f"\nChecks: 2 ForgeAPI worker processes x {args.check_jobs:,} jobs")
                once = await check_exactly_once(forge, args.check_jobs, folder)
                killed = await check_sigkill(forge, args.check_jobs, folder)
                return once and killed
            return True
        finally:
            for queue in queues.values():
                await queue.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000, help="jobs per burst")
    parser.add_argument("--paced", type=int, default=500, help="jobs enqueued at --rate for the latency")
    parser.add_argument("--rate", type=float, default=100.0, help="paced jobs per second")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, on fresh worker processes (medians)")
    parser.add_argument("--check-jobs", type=int, default=2000, help="jobs of the exactly-once and SIGKILL checks")
    parser.add_argument("--systems", default="forge,procrastinate,pgqueuer,sqlite")
    parser.add_argument("--processes", default="1,2", help="worker processes per PostgreSQL queue (SQLite: one)")
    parser.add_argument("--postgresql", default=os.environ.get("FORGE_BENCH_POSTGRESQL", DEFAULT_SERVER))
    parser.add_argument("--database-prefix", default="forgeapi_bench")
    args = parser.parse_args()
    if not asyncio.run(run(args)):
        raise SystemExit(1)
    print("\nOK: every job ran, and every check held")


if __name__ == "__main__":
    main()
