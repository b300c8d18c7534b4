import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.shared.middleware import SecurityHeaders
from tests.support.app import running
from tests.support.settings import BASE_URL, PRODUCTION_SECRETS, make_settings


async def test_a_request_id_is_generated_and_returned(client: httpx.AsyncClient) -> None:
    first = (await client.get("/healthz")).headers["x-request-id"]
    second = (await client.get("/healthz")).headers["x-request-id"]
    assert len(first) == 32
    assert first != second


async def test_a_well_formed_incoming_request_id_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"x-request-id": "lb-7f3a9c:0042"})
    assert response.headers["x-request-id"] == "lb-7f3a9c:0042"


@pytest.mark.parametrize("bad", ["short", "has space in it", "x" * 129, "semi;colon-abcdef", "ünïcode-abcdef"])
async def test_a_malformed_incoming_request_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get("/healthz", headers=[(b"x-request-id", bad.encode())])
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


async def test_security_headers_on_api_responses(client: httpx.AsyncClient) -> None:
    headers = (await client.get("/api/v1/users/me")).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert headers["cache-control"] == "private, no-store"
    assert "strict-transport-security" not in headers  # HSTS only where TLS is promised: production


async def test_docs_pages_get_their_own_csp(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers["content-security-policy"].startswith("script-src 'self'"), path
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_only_the_docs_pages_get_the_docs_csp(client: httpx.AsyncClient) -> None:
    strict = "default-src 'none'; frame-ancestors 'none'"
    assert (await client.get("/docsXYZ")).headers["content-security-policy"] == strict
    assert (await client.get("/docs/")).headers["content-security-policy"] == strict


async def test_hsts_is_on_in_production(database_url: str, engine: object) -> None:  # engine: migrated
    app = create_app(make_settings(database_url, **PRODUCTION_SECRETS))
    async with (
        running(app) as started,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as http,
    ):
        response = await http.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_large_bodies_are_gzipped_small_ones_are_not(app: FastAPI, client: httpx.AsyncClient) -> None:
    @app.get("/test-only/big")
    async def big() -> dict[str, str]:
        return {"data": "x" * 5000}

    big_response = await client.get("/test-only/big", headers={"accept-encoding": "gzip"})
    assert big_response.headers["content-encoding"] == "gzip"
    assert big_response.json() == {"data": "x" * 5000}  # httpx decodes it
    assert int(big_response.headers["content-length"]) < 5000
    small = await client.get("/healthz", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in small.headers


async def test_every_response_varies_by_accept_encoding_once_whoever_compressed_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Requests that do not accept gzip bypass the compressor, but a cache must still key every answer by encoding."""

    @app.get("/test-only/big")
    async def big() -> dict[str, str]:
        return {"data": "x" * 5000}

    for accept in ("gzip", "identity"):
        for path in ("/test-only/big", "/healthz", "/api/v1/no-such-route"):
            response = await client.get(path, headers={"accept-encoding": accept})
            assert response.headers.get_list("vary") == ["Accept-Encoding"], (accept, path)
    identity = await client.get("/test-only/big", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in identity.headers
    assert int(identity.headers["content-length"]) > 5000


@pytest.mark.parametrize("hsts", [False, True])
def test_the_headers_added_to_every_response_never_set_caching_or_vary(hsts: bool) -> None:
    # The middleware looks for the app's own Cache-Control and Vary before it adds these, so none may be one.
    security = SecurityHeaders(hsts=hsts, docs_policies={"/docs": b"default-src 'self'"})
    added = [*security.strict, *security.for_path("/docs")]
    assert added
    assert not {name for name, _ in added} & {b"cache-control", b"vary"}
