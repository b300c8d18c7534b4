"""What a product read costs this machine without ForgeAPI: the calibration for the harness's database ratios.

Run: `uv run python -m benchmarks.plain_read [--seconds 8] [--rounds 3]` after the harness has seeded
FORGE_BENCH_DATABASE_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/forgeapi_bench),
or with `--seed` to seed it here. Three minimal FastAPI apps on the same server, one worker pinned to one core, wrk
with 64 connections on the other: the bare app answering from memory (the harness's baseline), a plain async-ORM
endpoint (`session.get`, a dict back) and a plain SQLAlchemy Core one (one `select`, a dict back), each reported as
a ratio to the bare app. ForgeAPI's own read, in the harness, is best compared with these two: PostgreSQL runs on
the same two cores, so no endpoint that queries it comes near an answer from memory.

The same app also answers ForgeAPI's own paths (`/api/v1/products/{id}`, `/api/v1/products?page=&size=`) with plain
Core (`_core_reads.py`): the harness's baseline for its database scenarios, measured in the same run.
"""

import argparse
import os
import statistics
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.features.products.models import Product
from benchmarks._core_reads import add_routes
from benchmarks._http import run_wrk, serve, wrk_available
from benchmarks.harness import DEFAULT_PG, prepare_database

__all__ = ["create", "main"]

PATHS = {"bare (from memory)": "/memory/{id}", "plain async ORM": "/orm/{id}", "plain SQLAlchemy Core": "/core/{id}"}


def create() -> FastAPI:
    engine = create_async_engine(os.environ["FORGE_BENCH_DATABASE_URL"], pool_size=20, max_overflow=10)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    app = FastAPI()
    answer = {"id": 1, "name": "Product 00000", "price": "9.99", "quantity": 100}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/memory/{product_id}")
    async def memory(product_id: int) -> dict[str, Any]:
        return answer | {"id": product_id}

    @app.get("/orm/{product_id}")
    async def orm(product_id: int) -> dict[str, Any]:
        async with sessions() as session:
            product = await session.get(Product, product_id)
            assert product is not None  # noqa: S101 - a seeded id
            return {"id": product.id, "name": product.name, "price": str(product.price), "quantity": product.quantity}

    @app.get("/core/{product_id}")
    async def core(product_id: int) -> dict[str, Any]:
        columns = (Product.id, Product.name, Product.price, Product.quantity)
        async with engine.connect() as connection:
            row = (await connection.execute(select(*columns).where(Product.id == product_id))).one()
        return {"id": row.id, "name": row.name, "price": str(row.price), "quantity": row.quantity}

    add_routes(app, engine)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", action="store_true", help="seed the database first (10,000 products)")
    args = parser.parse_args()
    if not wrk_available():
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    url = os.environ.get("FORGE_BENCH_DATABASE_URL", DEFAULT_PG)
    product_id = prepare_database(url) if args.seed else 1
    results: dict[str, list[float]] = {name: [] for name in PATHS}
    with serve("benchmarks.plain_read:create", env={"FORGE_BENCH_DATABASE_URL": url}, factory=True) as base:
        for _ in range(args.rounds):
            for name, path in PATHS.items():
                target = base + path.format(id=product_id)
                run_wrk(target, seconds=1)
                results[name].append(run_wrk(target, seconds=args.seconds).requests_per_second)
    bare = statistics.median(results["bare (from memory)"])
    print(f"product read by id, {args.rounds} x {args.seconds} s, medians:")
    for name, values in results.items():
        rps = statistics.median(values)
        print(f"  {name:<24} {rps:>8,.0f} req/s   ratio {rps / bare:.3f}")


if __name__ == "__main__":
    main()
