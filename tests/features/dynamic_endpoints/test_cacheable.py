"""Dynamic endpoints marked `cacheable`: a public collection's reads are served from the response cache, and its
writes (and the spec's own changes) drop them; a spec that is not public cannot be cacheable."""

import httpx
import pytest

from app.core.context import AppContext
from tests import helpers
from tests.support.dynamic_endpoints import ADMIN_ENDPOINTS, collection, static

BOOKS = "/api/v1/x/books"


def stored(context: AppContext) -> int:
    assert context.response_cache is not None
    return len(context.response_cache.store)


async def titles(client: httpx.AsyncClient) -> list[str]:
    response = await client.get(BOOKS)
    assert response.status_code == 200, response.text
    return [item["title"] for item in response.json()["items"]]


async def test_a_cacheable_collection_is_read_from_the_cache_until_it_is_written(
    client: httpx.AsyncClient, context: AppContext, admin: helpers.Headers
) -> None:
    created = await client.post(ADMIN_ENDPOINTS, json=collection(cacheable=True), headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["cacheable"] is True
    assert (await client.post(BOOKS, json={"title": "Dune"})).status_code == 201
    assert await titles(client) == ["Dune"]
    assert stored(context) == 1
    hits = context.response_cache.store.hits if context.response_cache else 0
    assert await titles(client) == ["Dune"]
    assert context.response_cache is not None
    assert context.response_cache.store.hits == hits + 1

    document = await client.post(BOOKS, json={"title": "Emma"})
    assert await titles(client) == ["Dune", "Emma"]
    assert (await client.delete(f"{BOOKS}/{document.json()['id']}")).status_code == 204
    assert await titles(client) == ["Dune"]

    # The spec turns private: its stored reads are dropped and no longer served to anyone.
    spec_id = created.json()["id"]
    replaced = await client.put(f"{ADMIN_ENDPOINTS}/{spec_id}", json=collection(auth="admin"), headers=admin)
    assert replaced.status_code == 200, replaced.text
    assert (await client.get(BOOKS)).status_code == 401
    assert stored(context) == 0


async def test_a_collection_not_marked_cacheable_is_never_stored(
    client: httpx.AsyncClient, context: AppContext, admin: helpers.Headers
) -> None:
    assert (await client.post(ADMIN_ENDPOINTS, json=collection(), headers=admin)).status_code == 201
    assert await titles(client) == []
    assert stored(context) == 0


@pytest.mark.parametrize(
    "spec",
    [
        collection(auth="user", cacheable=True),
        collection(auth="admin", cacheable=True),
        static(method="POST", cacheable=True),
    ],
    ids=["user", "admin", "static-post"],
)
async def test_only_the_reads_of_a_public_endpoint_can_be_cacheable(
    client: httpx.AsyncClient, admin: helpers.Headers, spec: dict[str, object]
) -> None:
    response = await client.post(ADMIN_ENDPOINTS, json=spec, headers=admin)

    assert helpers.error_pointers(response) == ["#/cacheable"]
