"""What a page of the product list costs at depth: the first page, a cursor page and an offset page deep in
1,000,000 products on PostgreSQL (issue 21: a deep cursor page within 1.2 x of the first page).

Run: `uv run python -m benchmarks --pagination-depth` (or `uv run python -m benchmarks.pagination_depth`)
[--products 1000000] [--depth 900000] [--seconds 2] [--rounds 3] [--connections 4] [--reuse].
Needs wrk and PostgreSQL: FORGE_BENCH_DEPTH_DATABASE_URL, default
postgresql+asyncpg://postgres@127.0.0.1:5432/forgeapi_bench_depth,
created, migrated and filled by the run (one `INSERT ... SELECT generate_series`, a few seconds); `--reuse` keeps a
database that already holds that many products.

The service runs as the harness runs it (`forge serve`, one worker pinned to one core, wrk on the other). Each page
is 20 products without the total (`include_total=false`: counting 1,000,000 rows is the cost that does grow, and
it is reported on its own). Reported per page: requests/s, p50 and p99 latency, the server's CPU per request
(from /proc: PostgreSQL's share is not in it), and the database's own execution time of the page's statement
(EXPLAIN ANALYZE, median of 5): the part of an offset page that grows with depth. A page's cost is the sum of the
two, the measure the target is read on; requests/s, which a busy machine moves far more, is shown beside it.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from benchmarks._http import WrkResult, run_wrk, serve_forge, wrk_available

__all__ = ["main", "run"]

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/forgeapi_bench_depth"
SIZE = 20
SERVICE_ENV = {
    "FORGE_LOG_LEVEL": "WARNING",
    "FORGE_RATE_LIMIT_DEFAULT": "1000000/second",
    "FORGE_MIGRATE_ON_START": "false",
    # Every page is asked for again and again: with the response cache on, all three would be answered from it.
    "FORGE_CACHE_ENABLED": "false",
}
_FILL = """
INSERT INTO product (name, price, quantity, created_at, updated_at)
SELECT 'Product ' || lpad(i::text, 7, '0'), 9.99, 100, now(), now() FROM generate_series(1, :count) AS i
"""
# The statements the three pages send (`:limit`, one product more than the page, says whether another follows).
_STATEMENTS = {
    "first page": "SELECT * FROM product ORDER BY id LIMIT :limit",
    "cursor page": "SELECT * FROM product WHERE id > :after ORDER BY id LIMIT :limit",
    "offset page": "SELECT * FROM product ORDER BY id LIMIT :limit OFFSET :offset",
    "the total": "SELECT count(*) FROM product",
}


async def _products(url: str) -> int | None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            found: int = (await connection.execute(text("SELECT count(*) FROM product"))).scalar_one()
            return found
    except Exception:  # noqa: BLE001 - no database, or no table yet: fill it
        return None
    finally:
        await engine.dispose()


def prepare(url: str, products: int, *, reuse: bool) -> None:
    """A migrated database holding exactly `products` products, ids 1..products."""
    if reuse and asyncio.run(_products(url)) == products:
        return

    async def recreate() -> None:
        parsed = make_url(url)
        admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            await connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        await admin.dispose()

    asyncio.run(recreate())
    forge = str(Path(sys.executable).with_name("forge"))
    env = {**os.environ, "FORGE_DATABASE_URL": url}
    subprocess.run([forge, "db", "upgrade"], env=env, check=True, capture_output=True)

    async def fill() -> None:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text(_FILL), {"count": products})
            await connection.execute(text("VACUUM ANALYZE product"))
        await engine.dispose()

    asyncio.run(fill())


async def _explain(connection: AsyncConnection, statement: str, params: dict[str, Any]) -> float:
    plan = (await connection.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}"), params)).scalar_one()
    milliseconds: float = plan[0]["Execution Time"]
    return milliseconds


def database_times(url: str, *, after: int, offset: int) -> dict[str, float]:
    """Each page's statement's execution time in PostgreSQL, median of 5 (ms)."""

    async def measure() -> dict[str, float]:
        engine = create_async_engine(url)
        params = {"after": after, "offset": offset, "limit": SIZE + 1}
        times: dict[str, float] = {}
        async with engine.connect() as connection:
            for name, statement in _STATEMENTS.items():
                used = {k: v for k, v in params.items() if f":{k}" in statement}
                runs = [await _explain(connection, statement, used) for _ in range(5)]
                times[name] = statistics.median(runs)
        await engine.dispose()
        return times

    return asyncio.run(measure())


def _pages(base: str, depth: int) -> tuple[dict[str, str], int]:
    """The three pages' URLs, the cursor and offset ones starting after `depth` products, and the last id before."""
    listing = f"{base}/api/v1/products?size={SIZE}&include_total=false"
    offset_page = depth // SIZE + 1
    with httpx.Client(timeout=120) as client:
        before = client.get(f"{listing}&page={offset_page - 1}").raise_for_status().json()
        cursor_url = f"{listing}&cursor={before['next_cursor']}"
        offset_url = f"{listing}&page={offset_page}"
        by_cursor = client.get(cursor_url).raise_for_status().json()["items"]
        by_offset = client.get(offset_url).raise_for_status().json()["items"]
    if [p["id"] for p in by_cursor] != [p["id"] for p in by_offset]:
        raise SystemExit("the cursor page and the offset page at the same depth differ")
    urls = {"first page": listing, "cursor page": cursor_url, "offset page": offset_url}
    return urls, before["items"][-1]["id"]


def _median(runs: list[WrkResult]) -> WrkResult:
    cpu = [r.server_cpu_us for r in runs if r.server_cpu_us is not None]
    return WrkResult(
        statistics.median(r.requests_per_second for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
        sum(r.errors for r in runs),
        statistics.median(cpu) if cpu else None,
    )


def _cost_us(result: WrkResult, database_ms: float) -> float:
    """What a page costs the machine: the server's CPU per request and the database's execution time."""
    return (result.server_cpu_us or 0.0) + database_ms * 1000


def _row(name: str, result: WrkResult, first: WrkResult, database: dict[str, float]) -> str:
    cpu = f"{result.server_cpu_us:>8.0f}" if result.server_cpu_us is not None else "     n/a"
    cost = _cost_us(result, database[name]) / _cost_us(first, database["first page"])
    rps = first.requests_per_second / result.requests_per_second
    return (
        f"  {name:<12} {result.requests_per_second:>8,.0f} {result.p50_ms:>8.2f} {result.p99_ms:>8.2f} {cpu}"
        f" {database[name]:>9.3f}   {cost:>6.2f} x {rps:>7.2f} x"
        + ("" if result.errors == 0 else f"  ({result.errors} errors)")
    )


def run(args: argparse.Namespace) -> None:
    if not wrk_available():
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    url = os.environ.get("FORGE_BENCH_DEPTH_DATABASE_URL", DEFAULT_URL)
    prepare(url, args.products, reuse=args.reuse)
    runs: dict[str, list[WrkResult]] = {}
    with serve_forge(env={**SERVICE_ENV, "FORGE_DATABASE_URL": url}) as base:
        urls, after = _pages(base, args.depth)
        for page_url in urls.values():
            run_wrk(page_url, seconds=1, connections=args.connections)  # warm-up
        # Rounds in turn, each in another order, so that a change of load on a shared machine falls on every page.
        for round_ in range(args.rounds):
            names = list(urls)
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                result = run_wrk(urls[name], seconds=args.seconds, connections=args.connections)
                runs.setdefault(name, []).append(result)
    results = {name: _median(runs[name]) for name in urls}
    database = database_times(url, after=after, offset=args.depth)
    first = results["first page"]
    print(
        f"{args.products:,} products on PostgreSQL; pages of {SIZE} without the total, the deep ones after "
        f"{args.depth:,} products; wrk {args.connections} connections, {args.rounds} x {args.seconds} s per page "
        "in turn, medians; 1 worker"
    )
    print(
        f"  {'page':<12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU us':>8} {'DB ms':>9}   "
        "cost vs first (CPU + DB; req/s)"
    )
    for name, result in results.items():
        print(_row(name, result, first, database))
    ratio = _cost_us(results["cursor page"], database["cursor page"]) / _cost_us(first, database["first page"])
    verdict = "met" if ratio <= 1.2 else "NOT MET"  # noqa: PLR2004 - the issue's target
    print(f"  the total alone (COUNT(*) of {args.products:,}): {database['the total']:.1f} ms in the database")
    print(
        f"  deep cursor page / first page: {ratio:.2f} x ({verdict}: <= 1.2 x). CPU us: the server's CPU per "
        "request (/proc); DB ms: the statement's execution time in PostgreSQL (EXPLAIN ANALYZE, median of 5)"
    )


def parser() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_argument("--products", type=int, default=1_000_000)
    options.add_argument("--depth", type=int, default=900_000, help="products before the deep pages")
    options.add_argument("--seconds", type=int, default=2, help="duration of each wrk run")
    options.add_argument("--rounds", type=int, default=3, help="rounds of the three pages (medians are reported)")
    options.add_argument("--connections", type=int, default=4)
    options.add_argument("--reuse", action="store_true", help="keep a database that holds that many products")
    return options


def main(argv: list[str] | None = None) -> None:
    run(parser().parse_args(argv))


if __name__ == "__main__":
    main()
