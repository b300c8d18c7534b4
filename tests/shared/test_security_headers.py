"""`SecurityHeaders`: OWASP's secure headers on every answer, a strict CSP but on the docs pages, HSTS in
production."""

import httpx
import pytest

from app.main import create_app
from app.shared.security_headers import SecurityHeaders
from tests.support.app import running
from tests.support.settings import BASE_URL, PRODUCTION_SECRETS, make_settings


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


@pytest.mark.parametrize("hsts", [False, True])
def test_the_headers_added_to_every_response_never_set_caching_or_vary(hsts: bool) -> None:
    # The middleware looks for the app's own Cache-Control and Vary before it adds these, so none may be one.
    security = SecurityHeaders(hsts=hsts, docs_policies={"/docs": b"default-src 'self'"})
    added = [*security.strict, *security.for_path("/docs")]
    assert added
    assert not {name for name, _ in added} & {b"cache-control", b"vary"}
