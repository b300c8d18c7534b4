"""ForgeAPI against the code a developer would write by hand, scenario by scenario, in one run.

Run: `uv run python -m benchmarks [--database sqlite|postgresql] [--server uvicorn|granian|both] [--workers 1]
[--connections 64] [--seconds 10] [--rounds 3] [--scenarios healthz,config,read,page,deep] [--out DIR --name NAME]`
(needs wrk: `apt-get install wrk`; PostgreSQL: FORGE_BENCH_DATABASE_URL, default
postgresql+asyncpg://postgres@127.0.0.1/forgeapi_bench,
created and emptied by the run; Redis for the peer's cached path: FORGE_BENCH_REDIS_URL, default
redis://127.0.0.1:6379/0).

The service runs as users run it (`forge serve`, the full middleware stack, rate limiter on the memory backend with
a limit no scenario reaches, metrics on, tracing off, access log off), pinned to one core; wrk runs on the other.
ForgeAPI runs twice: with its response cache off (FORGE_CACHE_ENABLED=false) and on (the default), plus once without
its limiter for the limiter's cost. The database scenarios (a product read, the first page, page 250) are measured
against plain SQLAlchemy Core (`_core_reads.py`, served by `plain_read.py`'s app) and a stand-in of a peer
template's Redis-cached read (`_peer_cached.py`); the others against a bare FastAPI app answering the same request
with the same bytes, captured from ForgeAPI, from memory. Rounds alternate the order of the apps; medians are
reported, with the server's CPU per request (from /proc) and the issue's targets, and written as JSON, Markdown and
a PNG chart to `--out/--name`.

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
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import redis
from sqlalchemy import delete, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.core.security import PasswordHasher
from app.features.products.models import Product
from app.models import metadata
from benchmarks import pagination_depth
from benchmarks._chart import write_results
from benchmarks._http import WrkResult, median, run_wrk, serve, serve_forge, wrk_available
from benchmarks._report import Measured, Verdict, baseline_of, same_answer, text_report
from benchmarks._report import verdicts as targets_of

__all__ = ["main", "prepare_database"]

PRODUCTS = 10_000
PASSWORD = "benchmark password 1234"  # noqa: S105 - a throw-away benchmark user
EMAIL = "bench@example.com"
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/forgeapi_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
DATABASE_SCENARIOS = ("read", "page", "deep")
type Serve = Callable[[], AbstractContextManager[str]]

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
        "config": Scenario("config", "GET", "/api/v1/config"),
        "read": Scenario("read", "GET", f"/api/v1/products/{product_id}"),
        "page": Scenario("page", "GET", "/api/v1/products?page=1&size=20"),
        "deep": Scenario("deep", "GET", "/api/v1/products?page=250&size=20"),
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


@dataclass(frozen=True)
class Setup:
    """What every app of one server's run is given."""

    url: str
    server: str
    workers: int
    redis_url: str | None  # None: no Redis answered, so the peer's cached path is not measured
    folder: Path


def _apps(setup: Setup, chosen: dict[str, Scenario], payloads: Path) -> dict[str, tuple[Serve, list[str]]]:
    """Each app of the run (by its variant key), how to start it, and the scenarios it answers."""

    def app(path: str, **env: str) -> Serve:
        return lambda: serve(path, env=env, factory=True, server=setup.server, workers=setup.workers)

    def forge(**env: str) -> Serve:
        settings = {**SERVICE_ENV, "FORGE_DATABASE_URL": setup.url, **env}
        return lambda: serve_forge(env=settings, server=setup.server, workers=setup.workers)

    database = [name for name in chosen if name in DATABASE_SCENARIOS]
    # An unknown FORGE_ variable is ignored by the settings: before the cache exists, off and on are one app.
    apps = {
        "bare": (
            app("benchmarks._baseline:create", FORGE_BENCH_PAYLOADS=str(payloads)),
            [name for name in chosen if baseline_of(name) == "bare"],
        ),
        "core": (app("benchmarks.plain_read:create", FORGE_BENCH_DATABASE_URL=setup.url), database),
        "off": (forge(FORGE_CACHE_ENABLED="false"), list(chosen)),
        "on": (forge(), list(chosen)),
        "nolimit": (
            forge(FORGE_CACHE_ENABLED="false", FORGE_RATE_LIMIT_ENABLED="false"),
            [name for name in chosen if name == "config"],
        ),
    }
    if setup.redis_url is not None:
        # A prefix of this run's own: no key an earlier run cached is read.
        prefix = f"forgeapi-bench-peer:{os.getpid()}:{time.time_ns()}"
        peer = app(
            "benchmarks._peer_cached:create",
            FORGE_BENCH_DATABASE_URL=setup.url,
            FORGE_BENCH_REDIS_URL=setup.redis_url,
            FORGE_BENCH_PEER_PREFIX=prefix,
        )
        apps["peer"] = (peer, database)
    return {key: app for key, app in apps.items() if app[1]}


def measure(chosen: dict[str, Scenario], *, setup: Setup, args: argparse.Namespace) -> Measured:
    with serve_forge(
        env={**SERVICE_ENV, "FORGE_DATABASE_URL": setup.url}, server=setup.server, workers=setup.workers
    ) as forge_base:
        token, payloads = capture(forge_base, chosen, setup.folder)
    answers = json.loads(payloads.read_text())
    apps = _apps(setup, chosen, payloads)
    results: dict[str, dict[str, list[WrkResult]]] = {name: {} for name in chosen}
    for round_ in range(args.rounds):
        for key in list(apps) if round_ % 2 == 0 else list(reversed(apps)):
            start, names = apps[key]
            with start() as base:
                for name in names:
                    scenario = chosen[name]
                    if round_ == 0 and key in {"core", "peer"}:
                        _check_answer(base, scenario, answers[f"{scenario.method} {scenario.path}"]["body"], key)
                    results[name].setdefault(key, []).append(_load(base, scenario, token, args, setup.folder))
    return {name: {key: median(runs) for key, runs in by_app.items()} for name, by_app in results.items()}


def _check_answer(base: str, scenario: Scenario, forge_body: str, key: str) -> None:
    """The baselines must answer what ForgeAPI answers (the same products, the same fields), or the ratio lies."""
    body = httpx.get(f"{base}{scenario.path}", timeout=30).text
    if not same_answer(forge_body, body):
        print(f"  WARNING: {key} does not answer {scenario.path} as ForgeAPI does:")
        print(f"    ForgeAPI: {forge_body[:200]}\n    {key}: {body[:200]}")


def _load(base: str, scenario: Scenario, token: str, args: argparse.Namespace, folder: Path) -> WrkResult:
    script = scenario.wrk_script(folder, token)
    run_wrk(f"{base}{scenario.path}", seconds=1, connections=args.connections, script=script)  # warm-up
    return run_wrk(f"{base}{scenario.path}", seconds=args.seconds, connections=args.connections, script=script)


def password_hash_ms(settings: Settings, *, rounds: int = 5) -> float:
    """The median time of one Argon2id hash with the service's parameters: what every login pays by design."""
    hasher = PasswordHasher(settings)

    async def once() -> float:
        started = time.perf_counter()
        await hasher.hash(PASSWORD)
        return (time.perf_counter() - started) * 1000

    return statistics.median(asyncio.run(once()) for _ in range(rounds))


def _redis_url() -> str | None:
    url = os.environ.get("FORGE_BENCH_REDIS_URL", DEFAULT_REDIS)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        print(f"peer's cached path: not measured (no Redis answered at {url})")
        return None
    return url


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
    parser.add_argument("--scenarios", default="healthz,config,read,page,deep", help="also: order, login")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="where the results go")
    parser.add_argument("--name", default="harness", help="file name of the results (.json, .md, .png)")
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
        if "cache_enabled" not in Settings.model_fields:
            print("FORGE_CACHE_ENABLED is not a setting of this build: ForgeAPI's cache on and off are the same app")
        if "login" in chosen:
            print(
                f"login: Argon2id m={settings.password_hash_memory_kib} KiB, t={settings.password_hash_iterations}, "
                f"p={settings.password_hash_parallelism}: {password_hash_ms(settings):.1f} ms per hash, median of 5 "
                "(the baseline replays the token response without hashing)"
            )
        redis_url = _redis_url() if any(name in DATABASE_SCENARIOS for name in chosen) else None
        servers = ["uvicorn", "granian"] if args.server == "both" else [args.server]
        runs: dict[str, Measured] = {}
        found: list[Verdict] = []
        for server in servers:
            if server != servers[0]:
                prepare_database(url)  # every server starts from the same data (orders add rows)
            setup = Setup(url=url, server=server, workers=args.workers, redis_url=redis_url, folder=folder)
            runs[server] = measure(chosen, setup=setup, args=args)
            server_targets = targets_of(server, runs[server], connections=args.connections)
            found += server_targets
            print(text_report(server, args.database, runs[server], server_targets))
        meta = {key: getattr(args, key) for key in ("database", "workers", "connections", "seconds", "rounds")}
        write_results(
            args.out, args.name, runs, found, {**meta, "products": PRODUCTS, "date": time.strftime("%Y-%m-%d")}
        )


if __name__ == "__main__":
    main()
