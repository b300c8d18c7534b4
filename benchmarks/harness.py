"""ForgeAPI against bare FastAPI serving the same payloads from memory, scenario by scenario, in one run.

Run: `uv run python -m benchmarks [--database sqlite|postgresql] [--server uvicorn|granian|both] [--workers 1]
[--connections 64] [--seconds 10] [--rounds 3] [--scenarios healthz,list,read,order,login]` (needs wrk:
`apt-get install wrk`; PostgreSQL: FORGE_BENCH_DATABASE_URL, default
postgresql+asyncpg://postgres@127.0.0.1/forgeapi_bench, created and emptied by the run).

The service runs as users run it (`forge serve`, the full middleware stack, rate limiter on the memory backend with
a limit no scenario reaches, metrics on, tracing off, access log off), pinned to one core; wrk runs on the other.
Each scenario's baseline is a bare FastAPI app on the same server answering the same request with the same bytes,
captured from ForgeAPI, from memory. Rounds alternate the order of the two; medians are reported.

`uv run python -m benchmarks --pagination-depth [its options]` runs benchmarks/pagination_depth.py instead: the
first page, a deep cursor page and an offset page at the same depth of 1,000,000 products on PostgreSQL.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import delete, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.core.security import PasswordHasher
from app.features.products.models import Product
from app.models import metadata
from benchmarks import pagination_depth
from benchmarks._http import WrkResult, run_wrk, serve, serve_forge, wrk_available

__all__ = ["main", "prepare_database"]

PRODUCTS = 10_000
PASSWORD = "benchmark password 1234"  # noqa: S105 - a throw-away benchmark user
EMAIL = "bench@example.com"
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/forgeapi_bench"

SERVICE_ENV = {
    "FORGE_LOG_LEVEL": "WARNING",
    "FORGE_RATE_LIMIT_DEFAULT": "1000000/second",
    "FORGE_RATE_LIMIT_LOGIN": "1000000/second",
    "FORGE_RATE_LIMIT_LOGIN_ACCOUNT": "1000000/second",
    "FORGE_RATE_LIMIT_REGISTER": "1000000/second",
    "FORGE_MIGRATE_ON_START": "false",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    body: str | None = None
    content_type: str | None = None
    authorized: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    def wrk_script(self, folder: Path, token: str | None) -> str | None:
        if self.method == "GET" and not self.authorized:
            return None
        lines = [f'wrk.method = "{self.method}"']
        if self.body is not None:
            lines.append(f"wrk.body = {json.dumps(self.body)}")
        if self.content_type:
            lines.append(f'wrk.headers["Content-Type"] = "{self.content_type}"')
        if self.authorized and token:
            lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
        script = folder / f"{self.name}.lua"
        script.write_text("\n".join(lines) + "\n")
        return str(script)


def scenarios(product_id: int) -> dict[str, Scenario]:
    order = json.dumps({"items": [{"product_id": product_id, "quantity": 1}]})
    login = f"username={EMAIL.replace('@', '%40')}&password={PASSWORD.replace(' ', '+')}"
    return {
        "healthz": Scenario("healthz", "GET", "/healthz"),
        "list": Scenario("list", "GET", "/api/v1/products?page=250&size=20"),
        "read": Scenario("read", "GET", f"/api/v1/products/{product_id}"),
        "order": Scenario("order", "POST", "/api/v1/orders", order, "application/json", authorized=True),
        "login": Scenario("login", "POST", "/api/v1/auth/token", login, "application/x-www-form-urlencoded"),
    }


def prepare_database(url: str, products: int = PRODUCTS) -> int:
    """A migrated database holding `products` products (the last with stock for any run); returns that one's id."""

    async def reset() -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() == "postgresql":
            admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
                await connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
            await admin.dispose()

    asyncio.run(reset())
    env = {**os.environ, "FORGE_DATABASE_URL": url}
    forge = str(Path(sys.executable).with_name("forge"))
    subprocess.run([forge, "db", "upgrade"], env=env, check=True, capture_output=True)

    async def seed() -> int:
        engine = create_async_engine(url)
        async with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                await connection.execute(delete(table))
            rows = [{"name": f"Product {i:05d}", "price": Decimal("9.99"), "quantity": 100} for i in range(products)]
            rows[-1]["quantity"] = 1_000_000_000
            await connection.execute(insert(Product), rows)
            last: int = (await connection.execute(text("SELECT max(id) FROM product"))).scalar_one()
        await engine.dispose()
        return last

    return asyncio.run(seed())


def capture(base: str, chosen: dict[str, Scenario], folder: Path) -> tuple[str, Path]:
    """Register the benchmark user, take a token, and record ForgeAPI's answer to every scenario."""
    with httpx.Client(base_url=base, timeout=30) as client:
        client.post("/api/v1/auth/register", json={"email": EMAIL, "password": PASSWORD}).raise_for_status()
        login = client.post("/api/v1/auth/token", data={"username": EMAIL, "password": PASSWORD})
        login.raise_for_status()
        token: str = login.json()["access_token"]
        payloads = {}
        for scenario in chosen.values():
            headers = {"Authorization": f"Bearer {token}"} if scenario.authorized else {}
            if scenario.content_type:
                headers["Content-Type"] = scenario.content_type
            response = client.request(scenario.method, scenario.path, content=scenario.body, headers=headers)
            if response.status_code >= 400:  # noqa: PLR2004
                raise SystemExit(f"{scenario.name}: {response.status_code} {response.text}")
            payloads[f"{scenario.method} {scenario.path}"] = {"status": response.status_code, "body": response.text}
    path = folder / "payloads.json"
    path.write_text(json.dumps(payloads))
    return token, path


def measure(
    chosen: dict[str, Scenario], *, url: str, server: str, args: argparse.Namespace, folder: Path
) -> dict[str, tuple[WrkResult, WrkResult]]:
    env = {**SERVICE_ENV, "FORGE_DATABASE_URL": url}
    results: dict[str, tuple[list[WrkResult], list[WrkResult]]] = {name: ([], []) for name in chosen}
    with serve_forge(env=env, server=server, workers=args.workers) as forge_base:
        token, payloads = capture(forge_base, chosen, folder)
    baseline_env = {"FORGE_BENCH_PAYLOADS": str(payloads)}
    for round_ in range(args.rounds):
        for forge_first in [True, False] if round_ % 2 == 0 else [False, True]:
            if forge_first:
                with serve_forge(env=env, server=server, workers=args.workers) as base:
                    for name, scenario in chosen.items():
                        results[name][0].append(_load(base, scenario, token, args, folder))
            else:
                with serve(
                    "benchmarks._baseline:create", env=baseline_env, factory=True, server=server, workers=args.workers
                ) as base:
                    for name, scenario in chosen.items():
                        results[name][1].append(_load(base, scenario, token, args, folder))
    return {name: (_median(ours), _median(theirs)) for name, (ours, theirs) in results.items()}


def _load(base: str, scenario: Scenario, token: str, args: argparse.Namespace, folder: Path) -> WrkResult:
    script = scenario.wrk_script(folder, token)
    run_wrk(f"{base}{scenario.path}", seconds=1, connections=args.connections, script=script)  # warm-up
    return run_wrk(f"{base}{scenario.path}", seconds=args.seconds, connections=args.connections, script=script)


def _median(results: list[WrkResult]) -> WrkResult:
    cpu = [r.server_cpu_us for r in results if r.server_cpu_us is not None]
    return WrkResult(
        statistics.median(r.requests_per_second for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.errors for r in results),
        statistics.median(cpu) if cpu else None,
    )


def _cpu_ratio(ours: WrkResult, bare: WrkResult) -> str:
    """The baseline's server CPU per request over ours: the throughput ratio a saturated worker would show."""
    if ours.server_cpu_us is None or bare.server_cpu_us is None or not ours.server_cpu_us:
        return "   n/a"
    return f"{bare.server_cpu_us / ours.server_cpu_us:>6.3f}"


def _cpu_per_request(ours: WrkResult, bare: WrkResult) -> str:
    if ours.server_cpu_us is None or bare.server_cpu_us is None:
        return "n/a"
    return f"{ours.server_cpu_us:.0f} / {bare.server_cpu_us:.0f}"


# The performance issue's targets, as ratios to the bare app (1 worker, 64 connections, PostgreSQL for the reads).
TARGET_RATIOS = {"healthz": 0.80, "list": 0.25, "read": 0.25}
READ_P99_MS = 100.0


def _verdict(name: str, ours: WrkResult, ratio: float) -> str:
    if name not in TARGET_RATIOS:
        return ""
    met = ratio >= TARGET_RATIOS[name] and (name != "read" or (ours.p99_ms < READ_P99_MS and ours.errors == 0))
    wanted = f">= {TARGET_RATIOS[name]:.2f}" + (f", p99 < {READ_P99_MS:.0f} ms, 0 errors" if name == "read" else "")
    return f"{'met' if met else 'NOT MET'} ({wanted})"


def report(server: str, database: str, measured: dict[str, tuple[WrkResult, WrkResult]]) -> None:
    print(f"\n{server}, {database}:")
    print(
        f"  {'scenario':<9} {'ForgeAPI req/s':>14} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}   "
        f"{'bare req/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}   {'ratio':>6} {'CPU ratio':>9} "
        f"{'CPU us/req':>10}   target"
    )
    for name, (ours, bare) in measured.items():
        ratio = ours.requests_per_second / bare.requests_per_second
        print(
            f"  {name:<9} {ours.requests_per_second:>14,.0f} {ours.p50_ms:>7.1f} {ours.p99_ms:>7.1f} "
            f"{ours.errors:>6}   {bare.requests_per_second:>10,.0f} {bare.p50_ms:>7.1f} {bare.p99_ms:>7.1f} "
            f"{bare.errors:>6}   {ratio:>6.3f} {_cpu_ratio(ours, bare):>9} {_cpu_per_request(ours, bare):>10}   "
            f"{_verdict(name, ours, ratio)}"
        )
    print(
        "  ratio: requests/s against the bare app's. CPU ratio: the bare server's CPU time per request over ours,"
        " which other load on the machine hardly moves. CPU us/req: the server's CPU time per request (user +"
        " system, from /proc), ForgeAPI / bare"
    )


def password_hash_ms(settings: Settings, *, rounds: int = 5) -> float:
    """The median time of one Argon2id hash with the service's parameters: what every login pays by design."""
    hasher = PasswordHasher(settings)

    async def once() -> float:
        started = time.perf_counter()
        await hasher.hash(PASSWORD)
        return (time.perf_counter() - started) * 1000

    return statistics.median(asyncio.run(once()) for _ in range(rounds))


def main() -> None:
    if sys.argv[1:2] == ["--pagination-depth"]:  # a run of its own, with options of its own
        pagination_depth.main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--server", choices=["uvicorn", "granian", "both"], default="uvicorn")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (medians are reported)")
    parser.add_argument("--scenarios", default="healthz,list,read,order,login")
    args = parser.parse_args()
    if not wrk_available():
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.database == "postgresql":
            url = os.environ.get("FORGE_BENCH_DATABASE_URL", DEFAULT_PG)
        else:
            url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        product_id = prepare_database(url)
        every = scenarios(product_id)
        chosen = {name: every[name] for name in args.scenarios.split(",")}
        settings = Settings(_env_file=None)
        print(
            f"{PRODUCTS:,} products; 1 product page = 20 with its total; {args.workers} worker(s), "
            f"wrk {args.connections} connections, {args.rounds} x {args.seconds} s, medians"
        )
        print(
            f"login: Argon2id m={settings.password_hash_memory_kib} KiB, t={settings.password_hash_iterations}, "
            f"p={settings.password_hash_parallelism}: {password_hash_ms(settings):.1f} ms per hash, median of 5 "
            "(the baseline replays the token response without hashing)"
        )
        servers = ["uvicorn", "granian"] if args.server == "both" else [args.server]
        for server in servers:
            if len(chosen) > 1 or server != servers[0]:
                prepare_database(url)  # every server starts from the same data (orders add rows)
            report(server, args.database, measure(chosen, url=url, server=server, args=args, folder=folder))


if __name__ == "__main__":
    main()
