"""The rate limiter, measured against the article's list-based limiter, all in one run.

Run: `uv run python -m benchmarks.ratelimit [--seconds 5] [--rounds 5] [--check-rounds 9] [--instructions]`
(the Redis, HTTP and instruction parts need FORGE_TEST_REDIS_URL / wrk / valgrind; each is skipped, with a note,
when its tool is missing).

1. Per-check time, one hot key and 100k distinct keys, limit 100 per 60 s (and 10,000 for the list: it is O(n)).
2. Memory per tracked key, key string included.
3. Redis: round-trips (EVALSHA calls) per check and time per check.
4. HTTP: requests/s of a trivial endpoint with and without the limiter (uvicorn, wrk, 64 connections), each round
   on fresh server processes.
5. With --instructions: the same servers' instructions per request under valgrind, which the machine's noise
   does not move.
"""

import argparse
import asyncio
import gc
import itertools
import os
import statistics
import time
import timeit
import tracemalloc
import uuid
from collections.abc import Callable
from contextlib import ExitStack

from redis.asyncio import Redis

from app.core.ratelimit import Limit, MemoryBackend, PolicySet, RedisBackend
from benchmarks._callgrind import served_instructions, valgrind_available
from benchmarks._http import run_wrk, serve, wrk_available
from benchmarks._naive import SlidingWindowCounter

KEYS = 100_000
HOT_CHECKS = 200_000
LIMIT = 100


def _keys(count: int) -> list[str]:
    keys = [f"ip:10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(count)]
    # A string caches its hash: computed here, no implementation's first round pays it and the others not.
    for key in keys:
        hash(key)
    return keys


def _per_call_us(fn: Callable[[], object], number: int, rounds: int) -> float:
    return statistics.median(timeit.repeat(fn, number=number, repeat=rounds)) / number * 1e6


# Both loops call the check as the limiter's gate does, one plain call per request: a shared helper taking
# `check(key, *args)` would add a star-call that costs ~0.4 us here, more than half of what it measures.
def _checks_us(check: Callable[[str, PolicySet], object], keys: list[str], policy: PolicySet) -> float:
    started = time.perf_counter()
    for key in keys:
        check(key, policy)
    return (time.perf_counter() - started) / len(keys) * 1e6


def _naive_checks_us(is_allowed: Callable[[str], object], keys: list[str]) -> float:
    started = time.perf_counter()
    for key in keys:
        is_allowed(key)
    return (time.perf_counter() - started) / len(keys) * 1e6


def _bytes_per_key(check: Callable[[str], object], count: int) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for key in _keys(count):
        check(key)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / count


def _naive_hot_key_us(limit: int, rounds: int) -> float:
    """The article's check on a client that holds `limit - 1` timestamps: its steady state under load."""
    naive = SlidingWindowCounter(max_requests=limit)
    key = "ip:203.0.113.7"
    for _ in range(limit - 1):
        naive.is_allowed(key)

    def check_and_restore() -> None:
        naive.is_allowed(key)
        naive.requests[key].pop()  # keep the list at limit - 1, so every call does the same work

    return _per_call_us(check_and_restore, max(200, 200_000 // limit), rounds)


def _naive_full_bytes_per_key(limit: int, clients: int) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    naive = SlidingWindowCounter(max_requests=limit)
    for key in _keys(clients):
        for _ in range(limit):
            naive.is_allowed(key)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / clients


def in_process(rounds: int) -> None:
    policy = PolicySet("default", (Limit(LIMIT, 60),))
    keys = _keys(KEYS)
    # The hot key's checks must be admitted (as under a steady load within the limit), not refused after the first
    # hundred: a clock that advances one emission interval per call keeps every check on the admitting path.
    ticks = itertools.count(0, policy.limits[0].emission_us)
    hot = MemoryBackend(max_keys=2 * KEYS, clock=lambda: next(ticks))
    hot_keys = ["ip:203.0.113.7"] * HOT_CHECKS
    hot.check(hot_keys[0], policy)
    ours_hot = statistics.median(_checks_us(hot.check, hot_keys, policy) for _ in range(rounds))
    if not hot.check(hot_keys[0], policy).allowed:
        raise SystemExit("the hot-key measurement was not on the admitting path")
    # First checks of 100k new clients, each pass on a fresh backend (so every check inserts), median of passes.
    ours_many = statistics.median(
        _checks_us(MemoryBackend(max_keys=2 * KEYS).check, keys, policy) for _ in range(rounds)
    )
    sized = MemoryBackend(max_keys=2 * KEYS)
    ours_bytes = _bytes_per_key(lambda key: sized.check(key, policy), KEYS)
    naive_hot = {limit: _naive_hot_key_us(limit, rounds) for limit in (LIMIT, 10_000)}
    naive_many = statistics.median(
        _naive_checks_us(SlidingWindowCounter(max_requests=LIMIT).is_allowed, keys) for _ in range(rounds)
    )
    naive_bytes_one = _bytes_per_key(SlidingWindowCounter(max_requests=LIMIT).is_allowed, KEYS)
    naive_bytes_full = _naive_full_bytes_per_key(LIMIT, 1000)

    print(f"\n1-2. In-process check, limit {LIMIT} per 60 s (medians of {rounds} rounds)")
    print(f"  {'':<34} {'hot key':>10} {'100k keys':>10} {'B/key, 1 hit':>13} {'B/key, 100 hits':>16}")
    print(
        f"  {'ForgeAPI GCRA (memory backend)':<34} {ours_hot:>8.2f}us {ours_many:>8.2f}us {ours_bytes:>12.0f} "
        f"{ours_bytes:>16.0f}"
    )
    print(
        f"  {"article's list":<34} {naive_hot[LIMIT]:>8.2f}us {naive_many:>8.2f}us {naive_bytes_one:>12.0f} "
        f"{naive_bytes_full:>16.0f}"
    )
    print(f"  article's list at a limit of 10,000: {naive_hot[10_000]:.1f} us per check (ours does not depend on it)")
    print(
        f"  ratios: article / ours = {naive_hot[LIMIT] / ours_hot:.1f}x (hot key, limit {LIMIT}), "
        f"{naive_hot[10_000] / ours_hot:.0f}x (limit 10,000), {naive_bytes_full / ours_bytes:.0f}x memory at 100 hits"
    )


async def redis_checks(rounds: int) -> None:
    url = os.environ.get("FORGE_TEST_REDIS_URL")
    print("\n3. Redis backend")
    if not url:
        print("  skipped: set FORGE_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
        return
    redis = Redis.from_url(url)
    prefix = f"forge-bench:{uuid.uuid4().hex}:"
    backend = RedisBackend(redis, key_prefix=prefix)
    policy = PolicySet("default", (Limit(1_000_000, 60),))
    await backend.hit("ip:203.0.113.7", policy)
    calls_before = int((await redis.info("commandstats")).get("cmdstat_evalsha", {}).get("calls", 0))
    n = 2000
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            await backend.hit("ip:203.0.113.7", policy)
        timings.append((time.perf_counter() - started) / n * 1e6)
    calls = int((await redis.info("commandstats")).get("cmdstat_evalsha", {}).get("calls", 0)) - calls_before
    started = time.perf_counter()
    for _ in range(n):
        await redis.ping()
    ping_us = (time.perf_counter() - started) / n * 1e6
    print(f"  EVALSHA round-trips per check: {calls / (n * rounds):.2f}")
    print(f"  time per check: {statistics.median(timings):.0f} us (a bare PING round-trip: {ping_us:.0f} us)")
    async for key in redis.scan_iter(match=f"{prefix}*"):
        await redis.delete(key)
    await redis.aclose()


def _print_http(medians: dict[str, float], cpu_medians: dict[str, float]) -> None:
    baseline = medians[WITHOUT_LIMITER]
    for name, rps in medians.items():
        line = f"  {name:<{NAME_WIDTH}} {rps:>9,.0f} req/s   x{rps / baseline:.3f} of the stack without the limiter"
        if name in cpu_medians:
            line += f"   server CPU {cpu_medians[name]:.1f} us/request"
        print(line)
    for name in (UNDER_ITS_RATE, USING_ITS_ALLOWANCE):
        case = name.split(", ")[-1]
        line = f"  the limiter costs {100 * (1 - medians[name] / baseline):.1f} % of the throughput ({case})"
        if name in cpu_medians and WITHOUT_LIMITER in cpu_medians:
            # A saturated worker's throughput is 1 / its CPU time per request: the same cost, read from CPU
            # time, which other load on the machine hardly moves.
            line += f"; by server CPU per request {100 * (1 - cpu_medians[WITHOUT_LIMITER] / cpu_medians[name]):.1f} %"
        print(line)


WITHOUT_LIMITER = "request middleware, no limiter"
UNDER_ITS_RATE = "request middleware + limiter, client under its rate"
USING_ITS_ALLOWANCE = "request middleware + limiter, client using its allowance"
LIMITER_APPS = {
    WITHOUT_LIMITER: "benchmarks._trivial_apps:without_limiter",
    UNDER_ITS_RATE: "benchmarks._trivial_apps:limited",
    USING_ITS_ALLOWANCE: "benchmarks._trivial_apps:limited_busy",
}
NAME_WIDTH = max(map(len, LIMITER_APPS))


def http(seconds: int, rounds: int, server: str) -> None:
    print(f"\n4. HTTP, trivial endpoint, 1 {server} worker, wrk 64 connections, {rounds} x {seconds} s, medians")
    if not wrk_available():
        print("  skipped: wrk is not installed (apt-get install wrk)")
        return
    apps = {"bare FastAPI": "benchmarks._trivial_apps:bare", **LIMITER_APPS}
    results: dict[str, list[float]] = {name: [] for name in apps}
    cpu: dict[str, list[float]] = {name: [] for name in apps}
    for i in range(rounds):
        # Fresh servers every round: on this virtual machine one process can run up to ~1.8x slower than the
        # next, for its whole life, on the same code and core; one set of servers made single runs read 0-23 %.
        with ExitStack() as stack:
            bases = {name: stack.enter_context(serve(path, factory=True, server=server)) for name, path in apps.items()}
            for base in bases.values():
                run_wrk(f"{base}/hello", seconds=1)  # warm-up
            order = list(bases.items())
            for name, base in order if i % 2 == 0 else reversed(order):
                result = run_wrk(f"{base}/hello", seconds=seconds)
                if result.errors:
                    print(f"  warning: {result.errors} errors in a {name} run")
                results[name].append(result.requests_per_second)
                if result.server_cpu_us is not None:
                    cpu[name].append(result.server_cpu_us)
    medians = {name: statistics.median(values) for name, values in results.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items() if len(values) == rounds}
    _print_http(medians, cpu_medians)


def instructions(seconds: int, server: str) -> None:
    """The limiter's share of a served request in instructions: unlike time, the count does not move with the
    machine's load (the HTTP figures above swing between runs on a shared virtual machine)."""
    print(
        f"\n5. Instructions per served request (valgrind), {server}, trivial endpoint, wrk 8 connections, {seconds} s"
    )
    if not valgrind_available():
        print("  skipped: valgrind is not installed (apt-get install valgrind)")
        return
    per_request: dict[str, float] = {}
    for name, path in LIMITER_APPS.items():
        counted = served_instructions(path, server=server, path="/hello", seconds=seconds)
        per_request[name] = count = counted.per_request
        print(f"  {name:<{NAME_WIDTH}} {count:>11,.0f} instructions per request ({counted.requests:,} requests)")
    for name in (UNDER_ITS_RATE, USING_ITS_ALLOWANCE):
        more = per_request[name] / per_request[WITHOUT_LIMITER] - 1
        # At a fixed number of instructions per second, throughput falls by 1 - without / with.
        fewer = 1 - per_request[WITHOUT_LIMITER] / per_request[name]
        print(
            f"  the limiter ({name.split(', ')[-1]}): {100 * more:.1f} % more instructions per request,"
            f" {100 * fewer:.1f} % of the throughput"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="HTTP rounds, each on fresh servers (medians)")
    parser.add_argument("--check-rounds", type=int, default=9, help="in-process rounds (medians; ~1 s each)")
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions per request under valgrind (~4 min)"
    )
    parser.add_argument("--server", choices=["granian", "uvicorn"], default="granian", help="for the HTTP parts")
    args = parser.parse_args()
    in_process(args.check_rounds)
    asyncio.run(redis_checks(args.rounds))
    http(args.seconds, args.rounds, args.server)
    if args.instructions:
        instructions(10, args.server)


if __name__ == "__main__":
    main()
