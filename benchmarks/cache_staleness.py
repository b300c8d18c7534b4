"""The response cache's staleness bound, measured: how long a second instance serves a product's old price after a
write committed through the first.

Run: `uv run python -m benchmarks.cache_staleness [--writes 200] [--database-url URL] [--redis-url URL]`
(defaults: FORGE_BENCH_DATABASE_URL, else
postgresql+asyncpg://postgres@127.0.0.1:5432/forgeapi_bench;
FORGE_BENCH_REDIS_URL, else redis://127.0.0.1:6379/0).

Two apps in this process on one database stand for two instances. For each write: the second instance caches the
product (a hit confirmed), the first changes its price through the products service (its commit bumps the version
and publishes), and the second is asked again and again, yielding to the event loop between asks, until it answers
the new price. Reported: the delay's median, p99 and maximum, with Redis pub/sub, and with the periodic read of the
versions alone (`--sync-seconds`, no Redis).
"""

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from typing import Any, cast

import httpx
from pydantic import SecretStr

from app.config import Settings
from app.core.audit import Actor, Audit
from app.core.context import CONTEXT_KEY, AppContext, WithLifespanState
from app.core.database import committing
from app.core.migrations import upgrade
from app.features.products import service as products_service
from app.features.products.schemas import ProductCreate, ProductUpdate
from app.main import create_app

__all__ = ["main", "measure"]

DEFAULT_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/forgeapi_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


@asynccontextmanager
async def _instance(settings: Settings) -> AsyncIterator[tuple[AppContext, httpx.AsyncClient]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        lifespan_state = cast("Mapping[str, Any]", state)
        transport = httpx.ASGITransport(app=WithLifespanState(app, lifespan_state))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield lifespan_state[CONTEXT_KEY], client


async def _price(client: httpx.AsyncClient, path: str) -> str:
    price: str = (await client.get(path)).json()["price"]
    return price


# The actor the benchmark's writes are audited as (no such user: the trail has no foreign keys).
_BENCHMARK_ACTOR = 2**31 - 1


async def measure(settings: Settings, writes: int) -> list[float]:
    """Seconds from each write's commit to the second instance's first answer with the new price."""
    delays: list[float] = []
    async with AsyncExitStack() as stack:
        writer, _ = await stack.enter_async_context(_instance(settings))
        _, reader = await stack.enter_async_context(_instance(settings))
        audit = Audit(writer.audit, Actor(user_id=_BENCHMARK_ACTOR))
        async with committing(writer.database.session(writes=True)) as session:
            data = ProductCreate(name="Staleness probe", price=Decimal("1.00"), quantity=1)
            product = await products_service.create_product(session, data=data, events=writer.events, audit=audit)
        path = f"/api/v1/products/{product.id}"
        for write in range(writes):
            new_price = f"{2 + write}.00"
            await _price(reader, path)
            await _price(reader, path)  # now from the second instance's cache
            async with committing(writer.database.session(writes=True)) as session:
                changes = ProductUpdate(price=Decimal(new_price))
                await products_service.update_product(
                    session, product_id=product.id, changes=changes, events=writer.events, audit=audit
                )
            committed = time.perf_counter()
            while await _price(reader, path) != new_price:  # noqa: ASYNC110 - polling the other instance is the point
                await asyncio.sleep(0)  # the subscription and the periodic read run in this loop too
            delays.append(time.perf_counter() - committed)
    return delays


def _report(name: str, delays: list[float]) -> None:
    ordered = sorted(delays)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * len(ordered)))]
    print(
        f"{name:<32} writes={len(delays):<5} median={statistics.median(delays) * 1000:8.2f} ms  "
        f"p99={p99 * 1000:8.2f} ms  max={ordered[-1] * 1000:8.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--sync-seconds", type=float, default=1.0)
    parser.add_argument("--database-url", default=os.environ.get("FORGE_BENCH_DATABASE_URL", DEFAULT_DATABASE))
    parser.add_argument("--redis-url", default=os.environ.get("FORGE_BENCH_REDIS_URL", DEFAULT_REDIS))
    args = parser.parse_args()
    upgrade(args.database_url)
    base = Settings(
        _env_file=None,
        database_url=args.database_url,
        rate_limit_enabled=False,
        jobs_run_in_server=False,
        log_level="WARNING",
        dynamic_endpoints_sync_seconds=0,
    )
    with_redis = base.model_copy(update={"redis_url": SecretStr(args.redis_url), "cache_sync_seconds": 60.0})
    _report("Redis pub/sub", asyncio.run(measure(with_redis, args.writes)))
    versions_only = base.model_copy(update={"cache_sync_seconds": args.sync_seconds})
    fewer = max(args.writes // 10, 5)  # each waits up to --sync-seconds
    _report(f"versions read every {args.sync_seconds} s", asyncio.run(measure(versions_only, fewer)))


if __name__ == "__main__":
    main()
