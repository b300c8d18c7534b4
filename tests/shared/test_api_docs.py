"""Swagger UI (/docs) and ReDoc (/redoc) from the service's own assets: they render offline, under their own CSP."""

import base64
import hashlib
import re
from importlib.metadata import metadata
from pathlib import Path

import httpx
import pytest

from app import DISTRIBUTION, TITLE
from app.main import create_app
from app.shared.api_docs import STATIC_DIR
from tests.support import browser, processes
from tests.support.app import running
from tests.support.settings import BASE_URL, make_settings

PAGES = ["/docs", "/redoc", "/docs/oauth2-redirect"]
ASSETS = ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "redoc.standalone.js"]
_ATTRIBUTE_URL = re.compile(r"""(?:src|href)=["']([^"']+)["']""")
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
# ReDoc's sidebar always shows an "API docs by Redocly" image from Redocly's CDN. The docs' CSP blocks it (no request
# is made) and ReDoc then drops the image: the one refusal a rendered /redoc may log.
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def csp_directives(policy: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (part.strip() for part in policy.split(";")) if d}


@pytest.mark.parametrize("path", PAGES)
async def test_each_docs_page_loads_only_the_services_own_assets(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for url in _ATTRIBUTE_URL.findall(response.text):
        assert url.startswith("/"), url  # same origin: no CDN, no Google Fonts
        assert not url.startswith("//"), url
    assert "fonts.googleapis.com" not in response.text
    assert "cdn.jsdelivr.net" not in response.text


@pytest.mark.parametrize("path", PAGES)
async def test_docs_pages_allow_scripts_from_self_and_their_inline_script_by_hash(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    policy = csp_directives(response.headers["content-security-policy"])

    inline = _INLINE_SCRIPT.findall(response.text)
    hashes = [f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline]
    assert policy["script-src"] == ["'self'", *hashes]
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"]
    for sources in policy.values():  # nothing from another origin, and no inline script but the hashed one
        assert not any(s.startswith(("http", "*")) or s == "'unsafe-eval'" for s in sources)
    assert "'unsafe-inline'" not in policy["script-src"]


async def test_swagger_ui_has_exactly_one_inline_script(client: httpx.AsyncClient) -> None:
    assert len(_INLINE_SCRIPT.findall((await client.get("/docs")).text)) == 1


@pytest.mark.parametrize("asset", ASSETS)
async def test_the_assets_are_served_with_the_strict_csp(client: httpx.AsyncClient, asset: str) -> None:
    response = await client.get(f"/docs/static/{asset}")

    assert response.status_code == 200
    assert response.content == (STATIC_DIR / asset).read_bytes()
    assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response.headers["cache-control"] == "no-cache"  # kept, and revalidated by its ETag
    revalidated = await client.get(f"/docs/static/{asset}", headers={"if-none-match": response.headers["etag"]})
    assert revalidated.status_code == 304


async def test_the_docs_name_the_service_and_describe_it_as_pyproject_does(client: httpx.AsyncClient) -> None:
    info = (await client.get("/openapi.json")).json()["info"]

    assert info["title"] == TITLE
    assert info["summary"] == metadata(DISTRIBUTION)["Summary"]  # a generated project's own description


def test_the_vendored_assets_ship_with_their_licences() -> None:
    assert "Apache License" in (STATIC_DIR / "LICENSE.swagger-ui").read_text(encoding="utf-8")
    assert "MIT License" in (STATIC_DIR / "LICENSE.redoc").read_text(encoding="utf-8")


async def test_switched_off_docs_serve_nothing(database_url: str, engine: object) -> None:  # engine: migrated
    app = create_app(make_settings(database_url, docs_enabled=False))
    async with (
        running(app) as started,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as http,
    ):
        for path in [*PAGES, "/openapi.json", "/docs/static/swagger-ui-bundle.js"]:
            assert (await http.get(path)).status_code == 404, path


@processes.HEAVY
def test_docs_render_in_a_real_browser_with_no_network_but_the_service(tmp_path: Path) -> None:
    chromium = browser.chromium_or_skip()
    env = {"FORGE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'docs.db'}"}
    with processes.forge_serve(env, cwd=tmp_path) as base:
        swagger = browser.render(chromium, f"{base}/docs", profile=tmp_path / "swagger-profile")
        redoc = browser.render(chromium, f"{base}/redoc", profile=tmp_path / "redoc-profile")

    operations = sum(
        len(methods)
        for methods in create_app(make_settings("sqlite+aiosqlite:///unused.db")).openapi()["paths"].values()
    )
    # Swagger UI fetched /openapi.json and drew one block per operation.
    assert swagger.dom.count('class="opblock opblock-') == operations, swagger.dom[:2000]
    assert 'data-path="/api/v1/users/{user_id}"' in swagger.dom
    assert "opblock-summary-path" in swagger.dom
    assert swagger.console == []  # no failed load, no CSP violation
    # ReDoc drew the operations too, each with its id as an anchor.
    assert 'id="operation/update_user_api_v1_users__user_id__patch"' in redoc.dom, redoc.dom[:2000]
    assert redoc.dom.count('id="operation/') >= operations
    assert all(REDOCLY_LOGO in line and "Content Security Policy" in line for line in redoc.console), redoc.console
