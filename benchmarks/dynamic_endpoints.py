"""A registered `static` endpoint against the equivalent hand-written route, with 5 and with 500 specs.

Run: `uv run python -m benchmarks.dynamic_endpoints [--seconds 5] [--rounds 3]` (needs wrk).

Each server is the full ForgeAPI app (every middleware, metrics on; the rate limit set out of reach) on its own
SQLite database holding N specs, plus one hand-written route that returns the same JSON as the measured spec. The
hand-written route is put first in the routing table, like the dynamic catch-all, so neither walks the other
routes. Both are measured on the same server, interleaved, and the ratio dynamic/hand-written is reported.
"""

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.config import Settings
from app.core.database import Database
from app.features.dynamic_endpoints import service
from app.features.dynamic_endpoints.registry import SpecData
from app.features.dynamic_endpoints.schemas import EndpointSpecWrite
from app.features.dynamic_endpoints.state import EndpointRuntime
from app.main import create_app
from benchmarks._http import run_wrk, serve, wrk_available

BODY: dict[str, Any] = {"status": "ok", "version": "1.4.2", "regions": ["eu-west", "us-east"], "capacity": 100}
HAND = "/api/v1/bench/hand-written"
DYNAMIC = "/api/v1/x/catalog/status"
COMMON = {"FORGE_LOG_LEVEL": "WARNING", "FORGE_RATE_LIMIT_DEFAULT": "1000000/second"}


async def hand_written() -> dict[str, Any]:
    return BODY


def bench_app() -> FastAPI:
    """The service plus the hand-written equivalent of the measured spec, first in the routing table."""
    app = create_app()
    app.router.routes.insert(0, APIRoute(HAND, hand_written, methods=["GET"]))
    return app


def _specs(count: int) -> list[EndpointSpecWrite]:
    target = EndpointSpecWrite(
        name="catalog-status",
        path=DYNAMIC,
        kind="static",
        method="GET",
        auth="public",
        response_schema={"type": "object", "required": ["status"]},
        example=BODY,
    )
    others = [
        EndpointSpecWrite(
            name=f"filler-{i}",
            path=f"/api/v1/x/group{i % 10}/item{i}/{{id:int}}" if i % 2 else f"/api/v1/x/catalog/item{i}",
            kind="static",
            method="GET",
            auth="public",
            example={"n": i},
        )
        for i in range(count - 1)
    ]
    return [target, *others]


def prepare_database(url: str, specs: int) -> None:
    env = {**os.environ, "FORGE_DATABASE_URL": url}
    forge = Path(sys.executable).parent / "forge"  # (app.cli has no __main__: `python -m app.cli` does nothing)
    subprocess.run([str(forge), "db", "upgrade"], env=env, check=True, capture_output=True)

    async def seed() -> None:
        database = Database(Settings(_env_file=None, database_url=url))
        try:
            async with database.session(writes=True) as session, session.begin():
                await service.import_specs(session, specs=_specs(specs), runtime=None, max_specs=specs)
        finally:
            await database.dispose()

    asyncio.run(seed())


def match_cost(rounds: int) -> None:
    """In-process: the registry lookup alone, for the same request, with 5 and 500 specs."""
    runtime = EndpointRuntime(max_specs=1000)
    print(f"Registry lookup of GET {DYNAMIC}, in process, best of {rounds} x 100k lookups")
    for count in (5, 500):
        specs = [
            SpecData(
                id=i,
                version=1,
                summary="",
                auth="public",
                request_schema=None,
                **spec.model_dump(include={"name", "path", "kind", "method", "response_schema", "example"}),
            )
            for i, spec in enumerate(_specs(count), start=1)
        ]
        snapshot = runtime.build(1, specs)
        seconds = min(timeit.repeat(lambda s=snapshot: s.match(DYNAMIC), number=100_000, repeat=rounds))  # type: ignore[misc]
        print(f"  {count:>5} specs: {seconds / 100_000 * 1e9:,.0f} ns per lookup")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per measurement (medians are reported)")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    match_cost(args.rounds)
    if not wrk_available():
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    print(f"GET, 1 uvicorn worker, wrk 64 connections, {args.rounds} rounds x {args.seconds} s, interleaved; medians\n")
    print(f"  {'specs':>5} {'route':<26} {'req/s':>9} {'p99 ms':>7} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as folder:
        for count in (5, 500):
            url = f"sqlite+aiosqlite:///{Path(folder) / f'bench-{count}.db'}"
            prepare_database(url, count)
            env = {**COMMON, "FORGE_DATABASE_URL": url}
            rps: dict[str, list[float]] = {HAND: [], DYNAMIC: []}
            p99: dict[str, list[float]] = {HAND: [], DYNAMIC: []}
            with serve("benchmarks.dynamic_endpoints:bench_app", env=env, factory=True) as base:
                for path in rps:
                    run_wrk(f"{base}{path}", seconds=1)  # warm-up
                for round_ in range(args.rounds):
                    for path in list(rps) if round_ % 2 == 0 else list(reversed(rps)):
                        result = run_wrk(f"{base}{path}", seconds=args.seconds)
                        if result.errors:
                            print(f"  warning: {result.errors} errors on {path}")
                        rps[path].append(result.requests_per_second)
                        p99[path].append(result.p99_ms)
            reference = statistics.median(rps[HAND])
            for path, label in ((HAND, "hand-written route"), (DYNAMIC, "static spec")):
                median = statistics.median(rps[path])
                print(
                    f"  {count:>5} {label:<26} {median:>9,.0f} {statistics.median(p99[path]):>7.2f}"
                    f" {median / reference:>7.3f}"
                )


if __name__ == "__main__":
    main()
