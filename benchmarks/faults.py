"""Load with faults (issue #8): mixed traffic while PostgreSQL restarts and Redis stops and comes back.

Run: `uv run python -m benchmarks.faults [--seconds 60] [--workers 2] [--users 8]` (needs the PostgreSQL server
binaries and redis-server; both are started privately, on free ports, and thrown away afterwards).

1. A private PostgreSQL cluster and a private Redis; the migrations and an administrator (what `forge db upgrade`
   and `forge users create-admin` do, in-process); `forge serve --workers N` in production mode, rate limiting on
   Redis (fail-open, the default); products with known stock and users, through the API.
2. `--seconds` of mixed traffic (see `_traffic.py`). At 1/3 PostgreSQL is stopped (fast shutdown: every
   connection is cut), kept down for `--db-outage` seconds and started again; at 2/3 Redis is stopped for
   `--redis-outage` seconds and started again on the same port. `/readyz` is polled throughout.
3. Checks, each a failure when violated (exit status 1):
   - no 5xx but 503, every error body problem+json, no request without an answer within `--deadline` seconds;
   - before the first fault, and while only Redis is down (limits fail open), no 503 at all;
   - `/readyz` is 503 naming `database` while PostgreSQL is down, 200 `degraded` naming `redis` while Redis is
     down, and `ready` at the end;
   - after each fault, a database-backed request succeeds (and, for Redis, rate limiting resumes) within
     `--max-recovery` seconds of the server coming back;
   - every order acknowledged with 201 is in the database exactly once, no order is there unacknowledged, and
     each product's stock is its initial stock minus the acknowledged quantities.
"""

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from cryptography.fernet import Fernet
from pydantic import SecretStr
from tests.support.services import (
    PostgresServer,
    RedisServer,
    forge_process,
    postgres_server,
    private_redis,
)

from app.config import Settings
from app.core import migrations
from app.core.database import Database
from app.core.encryption import configure_encryption, load_keys
from app.core.security import PasswordHasher
from app.features.users import service as users_service
from app.features.users.models import UserRole
from app.features.users.schemas import UserCreate
from benchmarks import _faults_report as report
from benchmarks._traffic import Ledger, UserPlan, poll_readyz, virtual_user

ADMIN_EMAIL = "admin@example.com"
PASSWORD = "a long enough password for the load test"  # noqa: S105 - a throw-away test user
INITIAL_STOCK = 1_000_000
PRODUCTS = 3
DATABASE = "forgeapi"


@dataclass(frozen=True, slots=True)
class Options:
    seconds: float
    workers: int
    users: int
    deadline: float
    db_outage: float
    redis_outage: float
    max_recovery: float
    max_unavailable: float


def _server_env(pg: PostgresServer, redis: RedisServer) -> dict[str, str]:
    return {
        "FORGE_ENVIRONMENT": "production",
        "FORGE_DATABASE_URL": pg.url(DATABASE),
        "FORGE_REDIS_URL": redis.url,
        "FORGE_SECRET_KEY": secrets.token_urlsafe(48),
        "FORGE_API_KEY_PEPPER": secrets.token_urlsafe(48),
        "FORGE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "FORGE_BLIND_INDEX_KEY": Fernet.generate_key().decode(),
        # Faults are under test, not limits: every client shares one address, so limits are out of reach, but
        # every request still goes through the Redis limiter.
        "FORGE_RATE_LIMIT_DEFAULT": "1000000/minute",
        "FORGE_RATE_LIMIT_LOGIN": "1000000/minute",
        "FORGE_RATE_LIMIT_LOGIN_ACCOUNT": "1000000/minute",
        "FORGE_RATE_LIMIT_REGISTER": "1000000/minute",
        # Cheap password hashing: two shared cores, and logins are not what is measured.
        "FORGE_PASSWORD_HASH_MEMORY_KIB": "4096",
        "FORGE_PASSWORD_HASH_ITERATIONS": "1",
        "FORGE_METRICS_ENABLED": "false",
        "FORGE_LOG_LEVEL": "INFO",
        # No mail server here, and nothing under test sends mail: production's refusal of the console backend is lifted.
        "FORGE_MAIL_BACKEND": "console",
        "FORGE_MAIL_ALLOW_DEV_BACKEND_IN_PRODUCTION": "true",
        "FORGE_FRONTEND_URL": "https://app.example.com",  # production's mail links need https; none is sent here
    }


async def _create_database(pg: PostgresServer) -> None:
    connection = await asyncpg.connect(host="127.0.0.1", port=pg.port, user="postgres", database="postgres")
    try:
        await connection.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await connection.close()


def _settings(env: dict[str, str]) -> Settings:
    # Validated from the values alone: this process's own environment and .env must not leak in.
    return Settings.model_validate({name.removeprefix("FORGE_").lower(): value for name, value in env.items()})


async def _prepare(env: dict[str, str]) -> None:
    """`forge db upgrade` and `forge users create-admin`, in-process (each command costs seconds of imports)."""
    settings = _settings(env)
    await asyncio.to_thread(migrations.upgrade, settings.database_url)  # runs its own event loop
    configure_encryption(load_keys(settings))
    database = Database(settings)
    try:
        async with database.session(writes=True) as session, session.begin():
            data = UserCreate(email=ADMIN_EMAIL, password=SecretStr(PASSWORD))
            hasher = PasswordHasher(settings)
            await users_service.register_user(session, data=data, hasher=hasher, role=UserRole.ADMIN)
    finally:
        await database.dispose()


async def _seed(http: httpx.AsyncClient, users: int) -> tuple[list[int], list[tuple[UserPlan, str]]]:
    """Products with INITIAL_STOCK units each, and `users` users with their access tokens."""
    token = await _login(http, ADMIN_EMAIL)
    product_ids = []
    for number in range(PRODUCTS):
        created = await http.post(
            "/api/v1/products",
            json={"name": f"Product {number}", "price": "2.50", "quantity": INITIAL_STOCK},
            headers={"Authorization": f"Bearer {token}"},
        )
        created.raise_for_status()
        product_ids.append(int(created.json()["id"]))
    plans = []
    for number in range(users):
        email = f"user{number}@example.com"
        (await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})).raise_for_status()
        plans.append((UserPlan(email, PASSWORD, product_ids, seed=number), await _login(http, email)))
    return product_ids, plans


async def _login(http: httpx.AsyncClient, email: str) -> str:
    response = await http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    response.raise_for_status()
    return str(response.json()["access_token"])


async def _inject_faults(
    pg: PostgresServer, redis: RedisServer, options: Options, started: float, windows: dict[str, list[float]]
) -> None:
    """Windows: [fault begins, server certainly down, server starting, server back] in monotonic time."""
    await asyncio.sleep(max(0.0, started + options.seconds / 3 - time.monotonic()))
    windows["database"] = [time.monotonic()]
    await asyncio.to_thread(pg.stop)
    windows["database"].append(time.monotonic())
    await asyncio.sleep(options.db_outage)
    windows["database"].append(time.monotonic())
    await asyncio.to_thread(pg.start)
    windows["database"].append(time.monotonic())

    await asyncio.sleep(max(0.0, started + 2 * options.seconds / 3 - time.monotonic()))
    windows["redis"] = [time.monotonic()]
    await asyncio.to_thread(redis.stop)
    windows["redis"].append(time.monotonic())
    await asyncio.sleep(options.redis_outage)
    windows["redis"].append(time.monotonic())
    await asyncio.to_thread(redis.start)
    windows["redis"].append(time.monotonic())


async def _load(
    base: str, pg: PostgresServer, redis: RedisServer, options: Options
) -> tuple[Ledger, dict[str, list[float]]]:
    ledger = Ledger()
    windows: dict[str, list[float]] = {}
    limits = httpx.Limits(max_connections=options.users + 4, max_keepalive_connections=options.users + 4)
    async with httpx.AsyncClient(base_url=base, timeout=options.deadline, limits=limits) as http:
        _, plans = await _seed(http, options.users)
        started = time.monotonic()
        stop_at = started + options.seconds
        # Orders still unresolved at the end get time for an idempotency lease to run out (FORGE default 60 s
        # is set lower below) and a retry to take over.
        give_up_at = stop_at + 30
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(_inject_faults(pg, redis, options, started, windows))
            tasks.create_task(poll_readyz(ledger, http, stop_at=stop_at + 2))
            for plan, token in plans:
                tasks.create_task(virtual_user(ledger, http, plan, token, stop_at=stop_at, give_up_at=give_up_at))
    return ledger, windows


async def _database_state(pg: PostgresServer) -> report.DatabaseState:
    connection = await asyncpg.connect(host="127.0.0.1", port=pg.port, user="postgres", database=DATABASE)
    try:
        orders = [row["id"] for row in await connection.fetch("SELECT id FROM customer_order")]
        stock = {row["id"]: row["quantity"] for row in await connection.fetch("SELECT id, quantity FROM product")}
    finally:
        await connection.close()
    return report.DatabaseState(order_ids=orders, stock=stock, initial_stock=INITIAL_STOCK)


def _logged_errors(log: Path, limit: int = 20) -> list[str]:
    """Each error line of the service's JSON log as `event path: the exception's last line`."""
    shown = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and entry.get("level") == "error":
            # The exception's own line: the last unindented one, SQLAlchemy's "(Background on ...)" aside.
            lines = str(entry.get("exception", "")).splitlines()
            cause = [x for x in lines if x and not x.startswith((" ", "(Background", "Traceback"))][-1:] or [""]
            shown.append(f"{entry.get('timestamp')} {entry.get('event')} {entry.get('path', '')}: {cause[0]}")
    return shown[:limit]


async def run(options: Options) -> int:
    with (
        tempfile.TemporaryDirectory(prefix="forge-faults-") as scratch,
        postgres_server() as pg,
        private_redis() as redis,
    ):
        workdir = Path(scratch)
        await _create_database(pg)
        # A claim whose release failed while the database was down holds its key until its lease ends (409 until
        # then, never a second order): a lease shorter than the default 60 s lets such retries finish within the run.
        env = _server_env(pg, redis) | {"FORGE_IDEMPOTENCY_LEASE_SECONDS": "15"}
        await _prepare(env)
        log = workdir / "forge.log"
        with forge_process(env, cwd=workdir, output=log, workers=options.workers) as (_, base):
            ledger, windows = await _load(base, pg, redis, options)
            async with httpx.AsyncClient(base_url=base, timeout=options.deadline) as http:
                readyz_after = await http.get("/readyz")
        state = await _database_state(pg)
        limits = report.Limits(options.deadline, options.max_recovery, options.max_unavailable)
        findings = report.analyse(ledger, windows, state, options=limits)
        findings.readyz_after = (readyz_after.status_code, readyz_after.json())
        if readyz_after.status_code != 200 or readyz_after.json().get("status") != "ready":  # noqa: PLR2004
            findings.fail(f"/readyz after the run: {findings.readyz_after}")
        findings.server_errors = log.read_text(errors="replace").count('"unhandled_error"')
        if findings.server_errors:
            findings.fail(f"the service logged {findings.server_errors} unhandled error(s)")
        report.print_summary(findings, ledger)
        if findings.violations:
            print("\n--- errors logged by forge serve ---", file=sys.stderr)
            print("\n".join(_logged_errors(log)), file=sys.stderr)
            return 1
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="traffic duration")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--users", type=int, default=8, help="concurrent virtual users")
    parser.add_argument("--deadline", type=float, default=10.0, help="client timeout per request (s)")
    parser.add_argument("--db-outage", type=float, default=3.0, help="seconds PostgreSQL stays down")
    parser.add_argument("--redis-outage", type=float, default=5.0, help="seconds Redis stays down")
    parser.add_argument("--max-recovery", type=float, default=10.0, help="allowed seconds to recover (s)")
    parser.add_argument(
        "--max-503", type=float, default=7.0, help="slowest allowed 503 (s): the 5 s connect timeout plus a margin"
    )
    args = parser.parse_args()
    options = Options(
        args.seconds,
        args.workers,
        args.users,
        args.deadline,
        args.db_outage,
        args.redis_outage,
        args.max_recovery,
        args.max_503,
    )
    sys.exit(asyncio.run(run(options)))


if __name__ == "__main__":
    main()
