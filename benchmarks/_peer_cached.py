"""A STAND-IN for benavlabs/FastAPI-boilerplate's cached read: the peer's cached path, rebuilt here.

Neither peer template the issue names can be installed from a registry: benavlabs/FastAPI-boilerplate and
fastapi/full-stack-fastapi-template are GitHub projects one copies, not packages (PyPI's `fastapi-boilerplate` is an
unrelated 2021 placeholder holding one empty `__init__.py`). So this app does what that template's read endpoints
do with its Redis cache on, written afresh for the benchmark (none of its code is copied): a route whose `@cache`
decorator (the template's `app/core/utils/cache.py`) builds the key from a `{...}` template by regular expression
on every call, `GET`s it from Redis with redis-py's asyncio client and, on a hit, returns `json.loads` of it
without calling the endpoint; FastAPI then validates that dict against the route's response model, after the
route's dependencies (the template's `yield` session dependency, `async_get_db`) have run. A miss runs the endpoint
(plain Core here: only hits are measured, the warm-up fills the cache), stores `json.dumps(jsonable_encoder(...))`
and sets its expiry, as the template does.

Settings: FORGE_BENCH_DATABASE_URL, FORGE_BENCH_REDIS_URL, FORGE_BENCH_PEER_PREFIX (a key prefix per run).
"""

import functools
import json
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from redis.asyncio import ConnectionPool, Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from benchmarks._core_reads import PageOut, ProductOut, read_page, read_product

__all__ = ["create"]

_BRACES = re.compile(r"{(.*?)}")
Endpoint = Callable[..., Awaitable[Any]]


def _cached(
    redis: Redis, key_prefix: str, resource_id_name: str, expiration: int = 3600
) -> Callable[[Endpoint], Endpoint]:
    def wrapper(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)  # FastAPI reads the endpoint's own signature through __wrapped__
        async def inner(request: Request, **kwargs: Any) -> Any:
            fields = {name: kwargs[name] for name in _BRACES.findall(key_prefix)}
            key = f"{key_prefix.format(**fields)}:{kwargs[resource_id_name]}"
            if request.method == "GET" and (hit := await redis.get(key)):
                return json.loads(hit)
            serialized = json.dumps(jsonable_encoder(await endpoint(request, **kwargs)))
            await redis.set(key, serialized)
            await redis.expire(key, expiration)
            return json.loads(serialized)

        return inner

    return wrapper


def create() -> FastAPI:
    engine = create_async_engine(os.environ["FORGE_BENCH_DATABASE_URL"], pool_size=20, max_overflow=10)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    redis = Redis(connection_pool=ConnectionPool.from_url(os.environ["FORGE_BENCH_REDIS_URL"]))
    prefix = os.environ.get("FORGE_BENCH_PEER_PREFIX", "forgeapi-bench-peer")
    app = FastAPI()

    async def get_session() -> AsyncIterator[AsyncSession]:
        async with sessions() as session:
            yield session

    session_dependency = Depends(get_session)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/products/{product_id}", response_model=ProductOut)
    @_cached(redis, f"{prefix}:product", "product_id")
    async def get_product(
        request: Request,  # noqa: ARG001 - the template's decorator takes the request first
        product_id: int,
        session: Annotated[AsyncSession, session_dependency],
    ) -> Any:
        connection = await session.connection()
        product = await read_product(connection, product_id)
        if product is None:
            raise HTTPException(status_code=404, detail="product not found")
        return product

    @app.get("/api/v1/products", response_model=PageOut)
    @_cached(redis, prefix + ":products:page_{page}:size_{size}", "page")
    async def list_products(
        request: Request,  # noqa: ARG001
        session: Annotated[AsyncSession, session_dependency],
        page: Annotated[int, Query(ge=1)] = 1,
        size: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> Any:
        return await read_page(await session.connection(), page, size)

    return app
