"""Instructions per request of ForgeAPI's reads against plain SQLAlchemy Core, and of `/healthz` and the limiter
against their baselines, in process: a count that the machine's load does not move, for changes too small for the
HTTP harness to see on a shared machine.

Run: `uv run python -m benchmarks.instructions [--requests 300] [--seed] [--served granian|uvicorn]` (needs
valgrind: `apt-get install valgrind`; PostgreSQL at FORGE_BENCH_DATABASE_URL, seeded by the harness, or here with
`--seed`; by default postgresql+asyncpg://postgres@127.0.0.1:5432/forgeapi_bench).

Each row is one process under callgrind with counting off (`--instr-atstart=no`): it builds the app, starts it (the
lifespan, as a server would), serves 200 requests to warm up, then counts the instructions of `--requests` requests
made straight through ASGI (eight at a time, no server, no client sockets), and divides. ForgeAPI runs as
`forge serve` runs it in the harness (the whole middleware stack, the limiter on the memory backend, metrics;
tracing and the access log off), with its response cache off and on; plain Core is `plain_read.py`'s app (the
harness's baseline for the database scenarios). The ratio is Core's count over the row's: above 1, the row costs
fewer instructions. `/healthz` is measured against the harness's bare FastAPI app answering ForgeAPI's bytes
(the stack cost: 1 - bare / ForgeAPI), and `/api/v1/config` with the limiter on and off (the limiter's cost:
1 - off / on). Requests carry the headers wrk sends in the harness (no `Accept-Encoding`). What the counts leave
out, the HTTP server's own work per request, is the same for both apps of a pair, so the shares here are upper
bounds of what a served request shows.

`--served SERVER` then counts the limiter's pair as served requests: `forge`'s app under that server (one worker,
under callgrind), loaded by wrk at 8 connections for 10 s, less what the app's background loops run in an idle
window as long (`benchmarks/_callgrind.py`). The server's own work is in these counts: writing the limiter's five
header lines is part of what the limiter costs a served request.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message

from app.features.health.router import LIVE
from benchmarks._callgrind import dump_total, served_instructions, valgrind_available
from benchmarks.harness import DEFAULT_PG, SERVICE_ENV, prepare_database

__all__ = ["main"]

WARM_UP = 200
CONCURRENCY = 8
PRODUCT_ID = 5_000
_CACHE_OFF = {"FORGE_CACHE_ENABLED": "false"}
_NO_LIMITER = {**_CACHE_OFF, "FORGE_RATE_LIMIT_ENABLED": "false"}

# (row, app, path, query string, settings): the app is "forge", "core" or "bare". Each scenario's first row is its
# baseline, which the scenario's other rows are compared with.
type Row = tuple[str, str, str, str, Mapping[str, str]]
ROWS: tuple[Row, ...] = (
    ("read, plain SQLAlchemy Core", "core", f"/api/v1/products/{PRODUCT_ID}", "", {}),
    ("read, ForgeAPI, cache off", "forge", f"/api/v1/products/{PRODUCT_ID}", "", _CACHE_OFF),
    ("read, ForgeAPI, cache on", "forge", f"/api/v1/products/{PRODUCT_ID}", "", {}),
    ("page, plain SQLAlchemy Core", "core", "/api/v1/products", "page=1&size=20", {}),
    ("page, ForgeAPI, cache off", "forge", "/api/v1/products", "page=1&size=20", _CACHE_OFF),
    ("page, ForgeAPI, cache on", "forge", "/api/v1/products", "page=1&size=20", {}),
    ("healthz, bare FastAPI", "bare", "/healthz", "", {}),
    ("healthz, ForgeAPI", "forge", "/healthz", "", {}),
    ("config, ForgeAPI, no limiter", "forge", "/api/v1/config", "", _NO_LIMITER),
    ("config, ForgeAPI, limiter", "forge", "/api/v1/config", "", _CACHE_OFF),
)


def _scope(path: str, query: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _serve(asgi: ASGIApp, path: str, query: str, requests: int) -> None:
    limit = asyncio.Semaphore(CONCURRENCY)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def one() -> None:
        statuses: list[int] = []

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        async with limit:
            await asgi(_scope(path, query), receive, send)
        if statuses != [200]:
            raise SystemExit(f"{path}?{query} answered {statuses}")

    await asyncio.gather(*(one() for _ in range(requests)))


def _callgrind(command: str) -> None:
    control = shutil.which("callgrind_control")
    assert control is not None  # noqa: S101 - checked by main()
    subprocess.run([control, command, str(os.getpid())], check=True, capture_output=True)


async def _drive(app_kind: str, path: str, query: str, requests: int) -> None:
    """Inside the counted process: start the app, warm up, count `requests` requests."""
    from tests.support.app import running  # noqa: PLC0415 - the driver side only

    async def counted(asgi: ASGIApp) -> None:
        await _serve(asgi, path, query, WARM_UP)
        _callgrind("--instr=on")
        await _serve(asgi, path, query, requests)
        _callgrind("--dump")

    if app_kind == "core":
        from benchmarks.plain_read import create  # noqa: PLC0415

        await counted(create())
        return
    if app_kind == "bare":
        from benchmarks._baseline import create as create_bare  # noqa: PLC0415

        await counted(create_bare())
        return
    from app.main import create_app  # noqa: PLC0415

    async with running(create_app()) as started:
        await counted(started.asgi)


def _environment(url: str, settings: Mapping[str, str]) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("FORGE_")}
    return environment | {**SERVICE_ENV, "FORGE_DATABASE_URL": url, "FORGE_BENCH_DATABASE_URL": url, **settings}


def _count(row: tuple[str, str, str, str, Mapping[str, str]], *, valgrind: str, url: str, requests: int) -> float:
    _, app_kind, path, query, settings = row
    environment = _environment(url, settings)
    environment["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    with tempfile.TemporaryDirectory(prefix="forgeapi-instructions-") as directory:
        command = [valgrind, "-q", "--tool=callgrind", "--instr-atstart=no"]
        command += [f"--callgrind-out-file={directory}/callgrind.%p", sys.executable, "-m", "benchmarks.instructions"]
        command += ["--drive", app_kind, path, query, str(requests)]
        if app_kind == "bare":  # the bare app answers ForgeAPI's bytes, as in the harness
            payloads = Path(directory) / "payloads.json"
            payloads.write_text(json.dumps({f"GET {path}": {"status": 200, "body": LIVE.decode()}}))
            environment["FORGE_BENCH_PAYLOADS"] = str(payloads)
        subprocess.run(command, env=environment, check=True, capture_output=True)
        dumps = [path for path in Path(directory).iterdir() if re.fullmatch(r"callgrind\.\d+\.\d+", path.name)]
        totals = [dump_total(dump) for dump in dumps]
        if len(totals) != 1 or totals[0] is None:
            raise SystemExit(f"callgrind wrote no count for {app_kind} {path}")
        return totals[0] / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seed", action="store_true", help="seed the database first (10,000 products)")
    parser.add_argument("--served", choices=["granian", "uvicorn"], help="also count config served by this server")
    parser.add_argument("--drive", nargs=4, metavar=("APP", "PATH", "QUERY", "REQUESTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        app_kind, path, query, requests = args.drive
        asyncio.run(_drive(app_kind, path, query, int(requests)))
        return
    valgrind = shutil.which("valgrind")
    if valgrind is None or not valgrind_available():
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    url = os.environ.get("FORGE_BENCH_DATABASE_URL", DEFAULT_PG)
    if args.seed:
        prepare_database(url)
    baseline: dict[str, float] = {}  # per scenario: its baseline's count
    print(f"Instructions per request, in process, {args.requests} requests each (callgrind)")
    for row in ROWS:
        count = _count(row, valgrind=valgrind, url=url, requests=args.requests)
        name = row[0]
        scenario = name.split(",")[0]
        if scenario not in baseline:
            baseline[scenario] = count
            print(f"  {name:<34} {count:>12,.0f}")
            continue
        print(f"  {name:<34} {count:>12,.0f}   {_compared(scenario, baseline[scenario], count)}")
    if args.served:
        _served(args.served, url)


def _served(server: str, url: str) -> None:
    print(f"Instructions per served request, {server}, one worker, wrk 8 connections, 10 s (callgrind)")
    counts: list[float] = []
    for name, app_kind, path, _, settings in ROWS:
        if app_kind != "forge" or not name.startswith("config"):
            continue
        counted = served_instructions(
            "app.main:create_app", server=server, path=path, seconds=10, env=_environment(url, settings)
        )
        counts.append(counted.per_request)
        compared = f"   {_compared('config', counts[0], counted.per_request)}" if len(counts) > 1 else ""
        print(f"  {name:<34} {counted.per_request:>12,.0f}{compared}   ({counted.requests:,} requests)")


def _compared(scenario: str, baseline: float, count: float) -> str:
    if scenario == "healthz":
        return f"stack cost {1 - baseline / count:.1%}"
    if scenario == "config":
        return f"limiter {1 - baseline / count:.1%}"
    return f"x{baseline / count:.2f} of plain Core"


if __name__ == "__main__":
    main()
