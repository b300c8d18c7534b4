"""Product reads served from the response cache: the same bytes as without it, never older than the writes that
answered before them, and never anything user-specific. Two apps on one database with real commits stand for two
instances (on SQLite and PostgreSQL; through Redis pub/sub, or the periodic read of the versions alone)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.core.context import AppContext
from app.core.response_cache import ResponseCache
from app.features.auth.dependencies import CurrentUser
from app.shared.caching import edge_cached
from app.shared.routing import ForgeRoute
from tests import helpers
from tests.features.products.helpers import create_product
from tests.support import databases
from tests.support.app import started_with_client
from tests.support.polling import eventually
from tests.support.prometheus import sample
from tests.support.settings import redis_url_or_skip

PRODUCTS = "/api/v1/products"
GZIP = {"accept-encoding": "gzip"}
IDENTITY = {"accept-encoding": "identity"}
# How long the second instance may serve the old price: pub/sub delivers in milliseconds (docs/operations.md has
# the measured figures); without Redis, the periodic read of the versions every `SYNC_SECONDS`. Generous margins:
# the machines running the tests are shared.
SYNC_SECONDS = 0.2
BOUND_SECONDS = {"redis": 2.0, "versions": SYNC_SECONDS + 2.0}


@pytest.fixture
async def emptied(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    yield engine
    await databases.empty(engine)


def cache_of(context: AppContext) -> ResponseCache:
    assert context.response_cache is not None
    return context.response_cache


async def price_of(client: httpx.AsyncClient, path: str) -> str:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    price: str = response.json()["price"]
    return price


@pytest.mark.usefixtures("emptied")
@pytest.mark.parametrize("transport", ["redis", "versions"])
async def test_a_price_changed_through_one_instance_is_seen_by_the_other_within_the_bound(
    settings: Settings, transport: str
) -> None:
    if transport == "redis":
        # The versions are read too rarely to matter here: only the message can make the deadline.
        shared = settings.model_copy(update={"redis_url": SecretStr(redis_url_or_skip()), "cache_sync_seconds": 60})
    else:
        shared = settings.model_copy(update={"cache_sync_seconds": SYNC_SECONDS})
    async with AsyncExitStack() as stack:
        first, writer = await started_with_client(stack, shared)
        second, reader = await started_with_client(stack, shared)
        admin = await helpers.committed_admin_headers(first, writer)
        path = f"{PRODUCTS}/{(await create_product(writer, admin, price='10.00'))['id']}"
        # The second instance learns of the creation now: left to its periodic read (or the message), it could learn
        # between the two reads below and rightly drop the entry the second read is meant to hit.
        await cache_of(second).refresh()
        assert await price_of(reader, path) == "10.00"  # committed: the second instance reads it, and keeps it
        hits = cache_of(second).store.hits
        assert await price_of(reader, path) == "10.00"
        assert cache_of(second).store.hits == hits + 1  # the second instance serves the old price from its cache

        patched = await writer.patch(path, json={"price": "12.50"}, headers=admin)
        assert patched.status_code == 200, patched.text
        assert await price_of(writer, path) == "12.50"  # the writer, at once

        async def updated() -> bool:
            return await price_of(reader, path) == "12.50"

        await eventually(updated, seconds=BOUND_SECONDS[transport], message="the second instance kept the old price")


@pytest.mark.usefixtures("emptied")
async def test_a_cached_page_never_includes_a_deleted_product_after_the_delete_answered(settings: Settings) -> None:
    async with AsyncExitStack() as stack:
        context, client = await started_with_client(stack, settings)
        admin = await helpers.committed_admin_headers(context, client)
        kept = await create_product(client, admin, name="Kept")
        doomed = await create_product(client, admin, name="Doomed")
        paths = [PRODUCTS, f"{PRODUCTS}?q=oomed", f"{PRODUCTS}/{doomed['id']}"]
        for path in paths:  # cached, both codings
            for headers in (GZIP, IDENTITY):
                assert (await client.get(path, headers=headers)).status_code == 200
        assert len(cache_of(context).store) == 2 * len(paths)

        # Readers keep filling the cache while the delete runs: a page read before the delete committed must not
        # be kept past it.
        stop = asyncio.Event()

        async def read_all_the_time() -> None:
            while not stop.is_set():
                await client.get(PRODUCTS)
                await asyncio.sleep(0)  # a hit suspends nowhere in-process: let the others run

        readers = [asyncio.create_task(read_all_the_time()) for _ in range(4)]
        try:
            deleted = await client.delete(f"{PRODUCTS}/{doomed['id']}", headers=admin)
            assert deleted.status_code == 204
            for _ in range(20):
                for headers in (GZIP, IDENTITY):
                    page = await client.get(PRODUCTS, headers=headers)
                    assert [item["id"] for item in page.json()["items"]] == [kept["id"]]
                    found = await client.get(f"{PRODUCTS}?q=oomed", headers=headers)
                    assert found.json()["items"] == []
                    assert (await client.get(f"{PRODUCTS}/{doomed['id']}", headers=headers)).status_code == 404
        finally:
            stop.set()
            await asyncio.gather(*readers)


async def _answers(client: httpx.AsyncClient, paths: list[str], etag_of: dict[str, str]) -> list[Any]:
    answers: list[Any] = []
    for path in paths:
        for headers in (GZIP, IDENTITY, {**IDENTITY, "if-none-match": etag_of[path]}):
            for _ in range(2):  # the second from the cache, when it is on
                response = await client.get(path, headers=headers)
                shown = {k: v for k, v in response.headers.items() if k not in {"x-request-id", "date"}}
                answers.append((path, response.status_code, shown, response.content))
    return answers


@pytest.mark.usefixtures("emptied")
async def test_with_the_cache_off_the_answers_are_byte_identical(settings: Settings) -> None:
    settings = settings.model_copy(update={"rate_limit_enabled": False})  # its headers count each app's requests
    async with AsyncExitStack() as stack:
        cached_context, cached = await started_with_client(stack, settings)
        _, uncached = await started_with_client(stack, settings.model_copy(update={"cache_enabled": False}))
        admin = await helpers.committed_admin_headers(cached_context, cached)
        for number in range(30):  # a page large enough to be gzipped
            product = await create_product(cached, admin, name=f"Lamp {number}", price="19.99")
        paths = [PRODUCTS, f"{PRODUCTS}?page=2&size=5", f"{PRODUCTS}/{product['id']}", "/api/v1/config"]
        etag_of = {path: (await uncached.get(path, headers=IDENTITY)).headers["etag"] for path in paths}

        with_cache = await _answers(cached, paths, etag_of)
        without = await _answers(uncached, paths, etag_of)

        assert with_cache == without
        assert {status for _, status, _, _ in with_cache} == {200, 304}
        assert any(shown.get("content-encoding") == "gzip" for _, _, shown, _ in with_cache)
        assert cache_of(cached_context).store.hits >= len(paths) * 3


@pytest.mark.settings(cache_max_entries=2)
async def test_the_number_of_entries_is_bounded(client: httpx.AsyncClient, context: AppContext) -> None:
    for size in (1, 2, 3):
        assert (await client.get(f"{PRODUCTS}?size={size}")).status_code == 200

    store = cache_of(context).store
    assert (len(store), store.evictions) == (2, 1)


@pytest.mark.settings(cache_max_bytes=2048)
async def test_the_bytes_are_bounded(client: httpx.AsyncClient, context: AppContext, admin: helpers.Headers) -> None:
    for number in range(3):
        await create_product(client, admin, name=f"Lamp {number}")
    for size in range(1, 11):
        assert (await client.get(f"{PRODUCTS}?size={size}", headers=IDENTITY)).status_code == 200

    store = cache_of(context).store
    assert 0 < store.bytes <= 2048
    assert store.evictions > 0


async def test_user_specific_answers_are_never_stored(
    client: httpx.AsyncClient, context: AppContext, user: helpers.Headers, admin: helpers.Headers
) -> None:
    store = cache_of(context).store
    for path in ("/api/v1/users/me", "/api/v1/api-keys", "/api/v1/users/me/sessions"):
        assert (await client.get(path, headers=user)).status_code == 200, path
    assert (await client.get("/api/v1/users", headers=admin)).status_code == 200
    assert len(store) == 0

    # A public read answers the same with or without credentials: one entry serves both, no credential in its key.
    anonymous = await client.get(PRODUCTS)
    signed_in = await client.get(PRODUCTS, headers=user)
    assert signed_in.content == anonymous.content
    assert len(store) == 1


def test_a_route_that_reads_the_caller_cannot_be_stored() -> None:
    router = APIRouter(route_class=ForgeRoute)

    async def mine(user: CurrentUser) -> dict[str, int]:
        return {"id": user.id}

    with pytest.raises(TypeError, match="reads the caller"):
        router.get("/mine")(edge_cached(namespace="mine")(mine))


@pytest.mark.settings(cache_enabled=False)
async def test_with_the_cache_off_the_app_has_none(client: httpx.AsyncClient, context: AppContext) -> None:
    assert (await client.get(PRODUCTS)).status_code == 200
    assert context.response_cache is None


async def test_hits_misses_and_what_the_cache_holds_are_in_the_metrics(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        assert (await client.get(PRODUCTS, headers=IDENTITY)).status_code == 200

    text = (await client.get("/metrics")).text

    assert sample(text, "response_cache_misses_total") == 1
    assert sample(text, "response_cache_hits_total") == 2
    assert sample(text, "response_cache_entries") == 1
    assert (sample(text, "response_cache_bytes") or 0) > 0
