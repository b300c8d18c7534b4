"""A spec disabled (PUT with `enabled: false`) is kept but not served: its routes answer 404 and leave the OpenAPI
document, a collection keeps its documents, and its name and path stay taken; enabled again, it is served as it was."""

import httpx

from tests import helpers
from tests.helpers import problem
from tests.support.dynamic_endpoints import ADMIN_ENDPOINTS, collection, create

BOOKS = "/api/v1/x/books"


async def test_a_disabled_collection_is_kept_but_not_served(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    spec = await create(client, admin, collection())
    assert spec["enabled"] is True
    book = (await client.post(BOOKS, json={"title": "Dune"})).json()

    disabled = await client.put(f"{ADMIN_ENDPOINTS}/{spec['id']}", json=collection(enabled=False), headers=admin)

    assert disabled.status_code == 200, disabled.text
    assert (disabled.json()["enabled"], disabled.json()["version"]) == (False, 2)
    for gone in [await client.get(BOOKS), await client.post(BOOKS, json={"title": "Emma"})]:
        assert gone.status_code == 404  # as for a path no spec ever had
        assert gone.json()["detail"] == f"No resource at {BOOKS}."
    assert BOOKS not in (await client.get("/openapi.json")).json()["paths"]
    taken = await client.post(ADMIN_ENDPOINTS, json=collection(name="shelf"), headers=admin)
    problem(taken, 409, "conflict")  # its path is still its own

    enabled = await client.put(f"{ADMIN_ENDPOINTS}/{spec['id']}", json=collection(), headers=admin)

    assert enabled.json()["enabled"] is True
    assert (await client.get(BOOKS)).json()["items"] == [book]  # its documents were kept
    assert BOOKS in (await client.get("/openapi.json")).json()["paths"]
