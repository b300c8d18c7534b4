"""What the HTTP metrics cost per request (`started()` then `finished()`, as the request middleware calls them):
counts kept in memory (one process: tests, Lambda) and in a worker's shared file (`forge serve`), in process,
with one series that exists already, as in steady traffic; and what one scrape costs with W workers' files.
Timings on a shared machine move by tens of per cent from run to run; docs/performance.md also counts instructions.

Run: `uv run python -m benchmarks.metrics [--requests 200000] [--rounds 9] [--workers 4]`
"""

import argparse
import tempfile
import timeit
from pathlib import Path
from typing import Any

from app.config import API_PREFIX
from app.core.metrics import Metrics, read_shards


class _Route:
    path = "/config"  # an API route, so its template is found as a request's would be


_SCOPE: dict[str, Any] = {"method": "GET", "path": f"{API_PREFIX}/config", "route": _Route(), "state": {}}


def _per_request_ns(metrics: Metrics, *, requests: int, rounds: int) -> float:
    http = metrics.http

    def one() -> None:
        http.started()
        http.finished(_SCOPE, 200, 0.00042)

    one()  # the series is created once; steady traffic finds it
    return min(timeit.repeat(one, number=requests, repeat=rounds)) / requests * 1e9


def _scrape_us(directory: Path, *, workers: int, rounds: int) -> tuple[float, float]:
    """One scrape of `workers` files of 40 series each, and the part of it spent reading the files."""
    shared = [Metrics(api_prefix=API_PREFIX) for _ in range(workers)]
    for metrics in shared:
        metrics.shard.share(directory)
        for n in range(40):
            scope = {**_SCOPE, "route": type("Route", (), {"path": f"/route-{n}"})()}
            metrics.http.started()
            metrics.http.finished(scope, 200, 0.001)
    scraper = shared[0]
    scrape = min(timeit.repeat(lambda: scraper.render({}), number=100, repeat=rounds)) / 100
    reading = min(timeit.repeat(lambda: read_shards(directory), number=100, repeat=rounds)) / 100
    for metrics in shared:
        metrics.shard.unshare()
    return scrape * 1e6, reading * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    in_memory = _per_request_ns(Metrics(api_prefix=API_PREFIX), requests=args.requests, rounds=args.rounds)
    print(f"in memory:      {in_memory:6.0f} ns per request (best of {args.rounds} x {args.requests:,})")
    with tempfile.TemporaryDirectory(prefix="forge-metrics-bench-") as folder:
        metrics = Metrics(api_prefix=API_PREFIX)
        metrics.shard.share(Path(folder) / "one")
        shared = _per_request_ns(metrics, requests=args.requests, rounds=args.rounds)
        metrics.shard.unshare()
        print(f"in a shared file: {shared:4.0f} ns per request")
        scrape, reading = _scrape_us(Path(folder) / "scrape", workers=args.workers, rounds=args.rounds)
        print(
            f"one scrape of {args.workers} workers' files, 40 series each: {scrape:,.0f} us, of which reading the "
            f"files {reading:,.0f} us (the rest is prometheus_client's text format)"
        )


if __name__ == "__main__":
    main()
