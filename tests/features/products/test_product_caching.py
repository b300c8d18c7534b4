"""Product reads are public and the same for every caller: cached at the edge, revalidated by ETag.
Product writes, like everything user-specific, are never stored."""

import httpx
import pytest

from app.shared.caching import entity_tag
from tests import helpers
from tests.features.products.helpers import create_product

PRODUCTS = "/api/v1/products"
CACHE_CONTROL = "public, max-age=0, s-maxage=60, stale-while-revalidate=30"
IDENTITY = {"accept-encoding": "identity"}


@pytest.fixture
async def product_path(client: httpx.AsyncClient, admin: helpers.Headers) -> str:
    product = await create_product(client, admin, name="Cached Widget")
    return f"{PRODUCTS}/{product['id']}"


async def test_product_reads_carry_the_edge_caching_headers(client: httpx.AsyncClient, product_path: str) -> None:
    for path in (product_path, PRODUCTS):
        response = await client.get(path, headers=IDENTITY)

        assert response.status_code == 200, path
        assert response.headers["cache-control"] == CACHE_CONTROL
        assert response.headers["cdn-cache-control"] == "public, max-age=60, stale-while-revalidate=30"
        assert response.headers["vary"] == "Accept-Encoding"
        assert response.headers["etag"] == entity_tag(response.content, gzipped=False)


def spellings(product_id: int) -> list[str]:
    """What Pydantic's lax int parsing read as `product_id` before ids had to be canonical decimals."""
    digits = str(product_id)
    return [f"{digits}.0", f"{digits}.00000", f"%2B{digits}", f"%20{digits}", f"0{digits}", f"0_{digits}"]


async def test_a_product_has_one_url_other_spellings_of_its_id_are_422_and_never_cached(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    product = await create_product(client, admin, name="One URL")
    for spelling in spellings(product["id"]):
        response = await client.get(f"{PRODUCTS}/{spelling}")

        assert helpers.error_pointers(response) == ["#/product_id"], spelling
        assert "public" not in response.headers["cache-control"]


@pytest.mark.parametrize("listing", [False, True], ids=["product", "list"])
async def test_the_etag_is_stable_and_changes_when_the_product_does(
    client: httpx.AsyncClient, admin: helpers.Headers, product_path: str, listing: bool
) -> None:
    path = PRODUCTS if listing else product_path
    first = await client.get(path)
    assert (await client.get(path)).headers["etag"] == first.headers["etag"]
    assert (await client.get(path, headers={"if-none-match": first.headers["etag"]})).status_code == 304

    patched = await client.patch(product_path, json={"price": "12.50"}, headers=admin)
    assert patched.status_code == 200

    after = await client.get(path, headers={"if-none-match": first.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != first.headers["etag"]
    assert after.content != first.content
    assert "12.50" in after.text
    assert (await client.get(path, headers={"if-none-match": after.headers["etag"]})).status_code == 304


async def test_a_304_keeps_the_etag_and_the_caching_headers(client: httpx.AsyncClient, product_path: str) -> None:
    etag = (await client.get(product_path)).headers["etag"]

    response = await client.get(product_path, headers={"if-none-match": f'"old", W/{etag}'})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"] == CACHE_CONTROL
    assert response.headers["vary"] == "Accept-Encoding"


async def test_reads_are_the_same_with_or_without_credentials(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers, product_path: str
) -> None:
    for path in (product_path, PRODUCTS):
        anonymous = await client.get(path)
        for headers in (admin, user):
            signed_in = await client.get(path, headers=headers)
            assert signed_in.content == anonymous.content
            assert signed_in.headers["etag"] == anonymous.headers["etag"]
            assert signed_in.headers["cache-control"] == CACHE_CONTROL


async def test_a_large_page_is_gzipped_under_its_own_tag(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    for number in range(12):
        await create_product(client, admin, name=f"Bulk {number}")

    identity = await client.get(PRODUCTS, headers=IDENTITY)
    zipped = await client.get(PRODUCTS, headers={"accept-encoding": "gzip"})

    assert len(identity.content) >= 1000
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == identity.content  # httpx undoes the gzip
    assert zipped.headers["etag"] == entity_tag(identity.content, gzipped=True)
    assert (await client.get(PRODUCTS, headers={"if-none-match": zipped.headers["etag"]})).status_code == 304


async def test_writes_and_missing_products_are_never_stored(
    client: httpx.AsyncClient, admin: helpers.Headers, product_path: str
) -> None:
    responses = [
        await client.post(PRODUCTS, json={"name": "New", "price": "1.00"}, headers=admin),
        await client.patch(product_path, json={"quantity": 3}, headers=admin),
        await client.delete(product_path, headers=admin),
        await client.get(product_path),
    ]

    assert [r.status_code for r in responses] == [201, 200, 204, 404]
    for response in responses:
        assert response.headers["cache-control"] == "private, no-store"
        assert "etag" not in response.headers


async def test_the_openapi_document_names_the_304(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]

    assert "304" in paths["/api/v1/products"]["get"]["responses"]
    assert "304" in paths["/api/v1/products/{product_id}"]["get"]["responses"]
    assert "304" not in paths["/api/v1/products/{product_id}"]["patch"]["responses"]


async def test_head_of_a_product_carries_its_etag_and_revalidates(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    product = await create_product(client, admin)
    url = f"/api/v1/products/{product['id']}"
    got = await client.get(url)
    head = await client.head(url)
    assert (head.status_code, head.content, head.headers["etag"]) == (200, b"", got.headers["etag"])
    assert (await client.head(url, headers={"if-none-match": got.headers["etag"]})).status_code == 304


async def test_head_of_the_product_list_is_its_get_without_a_body(client: httpx.AsyncClient) -> None:
    got, head = await client.get("/api/v1/products"), await client.head("/api/v1/products")
    assert (head.status_code, head.content) == (200, b"")
    for name in ("content-type", "content-length", "cache-control", "etag"):
        assert head.headers.get(name) == got.headers.get(name), name


async def test_deleting_a_product_answers_204_without_a_content_type(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    product = await create_product(client, admin)
    deleted = await client.delete(f"/api/v1/products/{product['id']}", headers=admin)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert "content-type" not in deleted.headers
