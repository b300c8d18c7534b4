"""Browser clients (FORGE_AUTH_COOKIES): the refresh token also in an HttpOnly cookie on the auth paths, and a CSRF
token that every refresh or logout authenticated by that cookie must carry in X-CSRF-Token.

Cookies are sent by hand (a `Cookie` header), as a browser would send them: the test client's base URL is plain
http, where a cookie jar keeps `Secure` cookies to itself.
"""

from http.cookies import Morsel, SimpleCookie
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.features.sessions.dependencies import CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE
from app.main import create_app
from tests import helpers
from tests.support.app import running
from tests.support.auth import assert_problem, assert_unauthenticated
from tests.support.sessions import LOGOUT, REFRESH, TOKEN, access_works, refresh
from tests.support.settings import BASE_URL, make_settings

pytestmark = pytest.mark.settings(auth_cookies=True)


def set_cookies(response: httpx.Response) -> dict[str, Morsel[str]]:
    """The cookies a response sets, by name, with their attributes."""
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return dict(jar)


async def browser_login(client: httpx.AsyncClient) -> tuple[httpx.Response, str, str]:
    """A login as a browser's single-page app makes it: the answer, its refresh cookie and its CSRF token."""
    user = await helpers.register(client)
    response = await client.post(TOKEN, data={"username": user["email"], "password": helpers.PASSWORD})
    assert response.status_code == 200, response.text
    cookies = set_cookies(response)
    return response, cookies[REFRESH_COOKIE].value, cookies[CSRF_COOKIE].value


def sent_by_browser(refresh_cookie: str, csrf: str | None = None) -> dict[str, str]:
    headers = {"cookie": f"{REFRESH_COOKIE}={refresh_cookie}"}
    if csrf is not None:
        headers[CSRF_HEADER] = csrf
    return headers


async def test_login_sets_the_refresh_cookie_for_the_auth_paths_only(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response, refresh_cookie, csrf = await browser_login(client)
    body: dict[str, Any] = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}  # unchanged for clients
    cookies = set_cookies(response)
    refresh_token = cookies[REFRESH_COOKIE]
    assert refresh_cookie == body["refresh_token"]
    assert (refresh_token["path"], refresh_token["httponly"], refresh_token["secure"]) == ("/api/v1/auth", True, True)
    assert refresh_token["samesite"] == "lax"
    assert refresh_token["domain"] == ""
    assert int(refresh_token["max-age"]) == pytest.approx(settings.session_max_days * 86400, abs=60)
    # The CSRF token: readable by the page's script (not HttpOnly), for every path, and in a header too.
    csrf_cookie = cookies[CSRF_COOKIE]
    assert (csrf_cookie["path"], csrf_cookie["httponly"], csrf_cookie["secure"]) == ("/", "", True)
    assert csrf_cookie["samesite"] == "lax"
    assert response.headers[CSRF_HEADER] == csrf
    assert csrf not in {body["access_token"], body["refresh_token"]}


async def test_a_refresh_by_cookie_with_the_csrf_token_rotates_the_cookie(client: httpx.AsyncClient) -> None:
    _, refresh_cookie, csrf = await browser_login(client)
    response = await client.post(REFRESH, headers=sent_by_browser(refresh_cookie, csrf))  # no body at all
    assert response.status_code == 200, response.text
    cookies = set_cookies(response)
    assert cookies[REFRESH_COOKIE].value == response.json()["refresh_token"] != refresh_cookie
    assert cookies[CSRF_COOKIE].value == csrf  # the session's, for its whole life
    assert await access_works(client, response.json()["access_token"])


@pytest.mark.parametrize("csrf", [None, "", "0" * 64, "forged"], ids=["missing", "empty", "zeros", "forged"])
async def test_a_refresh_by_cookie_without_the_csrf_token_is_403_and_changes_nothing(
    client: httpx.AsyncClient, csrf: str | None
) -> None:
    _, refresh_cookie, right = await browser_login(client)
    refused = await client.post(REFRESH, headers=sent_by_browser(refresh_cookie, csrf))
    assert_problem(refused, 403, slug="csrf-token-invalid")
    assert "set-cookie" not in refused.headers
    # Not rotated, and not taken for reuse: the cookie still works with the right token.
    assert (await client.post(REFRESH, headers=sent_by_browser(refresh_cookie, right))).status_code == 200


async def test_another_sessions_csrf_token_does_not_do(client: httpx.AsyncClient) -> None:
    """A CSRF cookie planted by a sibling host holds a real token at best, of the attacker's own session."""
    _, victims_cookie, _ = await browser_login(client)
    _, _, attackers_csrf = await browser_login(client)
    refused = await client.post(REFRESH, headers=sent_by_browser(victims_cookie, attackers_csrf))
    assert_problem(refused, 403, slug="csrf-token-invalid")


async def test_a_refresh_token_in_the_body_needs_no_csrf_token(client: httpx.AsyncClient) -> None:
    """The body is no ambient credential: a page of another site cannot know the token to put there."""
    response, refresh_cookie, _ = await browser_login(client)
    rotated = await client.post(
        REFRESH, json={"refresh_token": response.json()["refresh_token"]}, headers=sent_by_browser(refresh_cookie)
    )
    assert rotated.status_code == 200, rotated.text


async def test_logout_by_cookie_needs_the_csrf_token_and_clears_the_cookies(client: httpx.AsyncClient) -> None:
    response, refresh_cookie, csrf = await browser_login(client)
    assert_problem(await client.post(LOGOUT, headers=sent_by_browser(refresh_cookie)), 403, slug="csrf-token-invalid")
    assert await access_works(client, response.json()["access_token"])

    logged_out = await client.post(LOGOUT, headers=sent_by_browser(refresh_cookie, csrf))
    assert logged_out.status_code == 204, logged_out.text
    cleared = set_cookies(logged_out)
    assert cleared[REFRESH_COOKIE]["max-age"] == cleared[CSRF_COOKIE]["max-age"] == "0"
    assert cleared[REFRESH_COOKIE]["path"] == "/api/v1/auth"
    assert not await access_works(client, response.json()["access_token"])
    assert_unauthenticated(await client.post(REFRESH, headers=sent_by_browser(refresh_cookie, csrf)))


async def test_logout_with_the_access_token_clears_the_cookies_too(client: httpx.AsyncClient) -> None:
    response, _, _ = await browser_login(client)
    logged_out = await client.post(LOGOUT, headers=helpers.bearer(response.json()["access_token"]))
    assert logged_out.status_code == 204
    assert set(set_cookies(logged_out)) == {REFRESH_COOKIE, CSRF_COOKIE}


@pytest.mark.settings(auth_cookies=False)
async def test_without_cookie_mode_no_cookie_is_set_or_read(client: httpx.AsyncClient) -> None:
    user = await helpers.register(client)
    response = await client.post(TOKEN, data={"username": user["email"], "password": helpers.PASSWORD})
    assert "set-cookie" not in response.headers
    assert CSRF_HEADER not in response.headers
    refresh_token = response.json()["refresh_token"]
    assert_unauthenticated(await client.post(REFRESH, headers=sent_by_browser(refresh_token, "x")))
    assert (await refresh(client, refresh_token)).status_code == 200


@pytest.mark.settings(auth_cookie_domain="example.com")
async def test_the_cookie_domain_is_the_csrf_cookies_only(client: httpx.AsyncClient) -> None:
    """So that a single-page app on app.example.com can read the CSRF token; the refresh cookie stays host-only."""
    response, _, _ = await browser_login(client)
    cookies = set_cookies(response)
    assert cookies[CSRF_COOKIE]["domain"] == "example.com"
    assert cookies[REFRESH_COOKIE]["domain"] == ""


@pytest.mark.parametrize(("cookies", "credentials"), [(True, "true"), (False, None)])
async def test_cors_grants_credentials_to_listed_origins_only_with_cookie_mode(
    database_url: str, engine: AsyncEngine, cookies: bool, credentials: str | None
) -> None:
    del engine  # requested for the migrated schema
    app = create_app(make_settings(database_url, auth_cookies=cookies, cors_origins="https://app.example"))
    async with (
        running(app) as started,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as http,
    ):
        preflight = await http.options(
            REFRESH,
            headers={
                "origin": "https://app.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "x-csrf-token",
            },
        )
    assert preflight.headers.get("access-control-allow-credentials") == credentials
    allowed = preflight.headers.get("access-control-allow-headers", "").lower()
    assert ("x-csrf-token" in allowed) is cookies
