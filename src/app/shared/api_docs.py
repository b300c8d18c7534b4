"""Interactive API documentation (Swagger UI at /docs, ReDoc at /redoc) served entirely by the service itself.

FastAPI's own docs pages load their scripts and styles from a CDN: on an air-gapped network, or under a
Content-Security-Policy that allows only the service's own origin, they are blank. Here the assets are vendored
(`static/docs/`, with their licences) and mounted under `/docs/static`, and each page gets its own policy:

- `script-src 'self'` plus the SHA-256 hash of the page's one inline script (Swagger UI's initialiser, the OAuth2
  redirect page's handler): the pages are rendered once at start-up, so the hashes are fixed; no 'unsafe-inline'.
- `style-src 'self' 'unsafe-inline'`: both UIs set inline `style` attributes from JavaScript (React, styled-components),
  which only hashes of every attribute value or 'unsafe-inline' allow. Styles cannot run code.
- `worker-src blob:`: ReDoc's search index runs in a worker built from a Blob.
- `img-src 'self' data:`: Swagger UI's icons are inline SVG data URLs.
Swagger UI's online validator badge (an image from a third-party host) is switched off.
"""

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

__all__ = ["DOCS_URL", "OAUTH2_REDIRECT_URL", "REDOC_URL", "STATIC_DIR", "STATIC_URL", "install_docs"]

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = f"{DOCS_URL}/oauth2-redirect"
STATIC_URL = f"{DOCS_URL}/static"
STATIC_DIR = Path(__file__).parent / "static" / "docs"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_BASE_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "worker-src blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def page_policy(html: bytes) -> bytes:
    """The Content-Security-Policy for one docs page: its inline scripts allowed by hash, and nothing else inline."""
    sources = ["'self'"] + [
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html.decode())
    ]
    return f"script-src {' '.join(sources)}; {_BASE_POLICY}".encode()


def _page(body: bytes) -> Callable[[Request], Awaitable[HTMLResponse]]:
    async def endpoint(_request: Request) -> HTMLResponse:
        return HTMLResponse(body)

    return endpoint


class _Assets(StaticFiles):
    """The vendored files, revalidated by ETag on each visit (304) instead of the default `no-store` re-download."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["cache-control"] = "no-cache"
        return response


def install_docs(app: FastAPI, *, openapi_url: str) -> Mapping[str, bytes]:
    """Add /docs, /docs/oauth2-redirect, /redoc and the assets to `app`; return each page's CSP by path.

    Create the app with `docs_url=None, redoc_url=None` so that FastAPI's CDN-loading pages are not there too.
    """
    pages = {
        DOCS_URL: get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_URL}/favicon-32x32.png",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters={"validatorUrl": None},  # no badge image from validator.swagger.io
        ).body,
        OAUTH2_REDIRECT_URL: get_swagger_ui_oauth2_redirect_html().body,
        REDOC_URL: get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{STATIC_URL}/favicon-32x32.png",
            with_google_fonts=False,
        ).body,
    }
    app.mount(STATIC_URL, _Assets(directory=STATIC_DIR), name="docs-static")
    for path, body in pages.items():
        app.router.routes.append(Route(path, _page(bytes(body)), methods=["GET", "HEAD"]))
    return {path: page_policy(bytes(body)) for path, body in pages.items()}
