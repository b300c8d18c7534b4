"""Signing in to the admin console: administrators only, with their account's password (and code), limited like the
API's login; a session in a strict cookie that ends at sign-out, on deactivation and on demotion; CSRF on every
form; the console's security headers."""

import re
from http.cookies import SimpleCookie

import httpx
import pytest
from fastapi import FastAPI

from app.core.context import AppContext
from app.core.database import utcnow
from app.features.console.signin import COOKIE
from app.features.users import service as users_service
from app.features.users.models import UserRole
from app.shared.console import CONSOLE_CSP
from tests import helpers
from tests.support import mfa
from tests.support.console import CONSOLE_URL, account, post_form, sign_in


def _cookie(response: httpx.Response) -> SimpleCookie:
    cookies = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookies.load(header)
    return cookies


async def _user_id(context: AppContext, email: str) -> int:
    async with context.database.session(writes=False) as session:
        return (await users_service.get_user_by_email(session, email=email)).id


async def test_an_administrator_signs_in_and_out(context: AppContext, console_client: httpx.AsyncClient) -> None:
    email = await account(context)

    signed_in = await sign_in(console_client, email)

    assert signed_in.status_code == 303, signed_in.text
    cookie = _cookie(signed_in)[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["secure"] is True
    assert cookie["samesite"] == "strict"
    assert cookie["path"] == "/admin"
    page = await console_client.get("/admin/")
    assert page.status_code == 200
    assert email in page.text
    # The console's session is one of the account's sessions, listed with the others.
    api = await helpers.login(console_client, email)
    sessions = await console_client.get("/api/v1/users/me/sessions", headers=helpers.bearer(api["access_token"]))
    assert sessions.json()["total"] == 2

    signed_out = await post_form(console_client, "/admin/", {}, action="/admin/logout")

    assert signed_out.status_code == 303
    assert signed_out.headers["location"].endswith("/admin/login")
    assert (await console_client.get("/admin/")).status_code == 303  # to the sign-in page
    sessions = await console_client.get("/api/v1/users/me/sessions", headers=helpers.bearer(api["access_token"]))
    assert sessions.json()["total"] == 1  # the console's was revoked


async def test_a_user_who_is_no_administrator_is_refused(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    email = await account(context, role=UserRole.USER)

    refused = await sign_in(console_client, email)

    assert refused.status_code == 403
    assert "not one" in refused.text
    assert COOKIE not in _cookie(refused)
    assert (await console_client.get("/admin/")).status_code == 303


async def test_a_wrong_password_or_a_deactivated_administrator_is_refused_alike(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    email = await account(context)
    wrong = await sign_in(console_client, email, password="not the password at all")
    deactivated = await account(context)
    async with context.database.session(writes=True) as session, session.begin():
        (await users_service.get_user_by_email(session, email=deactivated)).is_active = False

    refused = await sign_in(console_client, deactivated)

    assert wrong.status_code == refused.status_code == 401
    assert "Incorrect e-mail or password." in wrong.text
    assert "Incorrect e-mail or password." in refused.text


@pytest.mark.parametrize("change", [{"role": "user"}, {"is_active": False}], ids=["demoted", "deactivated"])
async def test_a_console_session_ends_when_its_user_stops_being_an_active_administrator(
    context: AppContext, console_client: httpx.AsyncClient, change: dict[str, object]
) -> None:
    email = await account(context)
    assert (await sign_in(console_client, email)).status_code == 303
    other = helpers.bearer((await helpers.login(console_client, await account(context)))["access_token"])

    changed = await console_client.patch(f"/api/v1/users/{await _user_id(context, email)}", json=change, headers=other)

    assert changed.status_code == 200, changed.text
    assert (await console_client.get("/admin/")).status_code == 303
    back = await console_client.patch(
        f"/api/v1/users/{await _user_id(context, email)}", json={"role": "admin", "is_active": True}, headers=other
    )
    assert back.status_code == 200
    assert (await console_client.get("/admin/")).status_code == 303  # the session stays ended


async def test_every_form_needs_the_csrf_token(context: AppContext, console_client: httpx.AsyncClient) -> None:
    email = await account(context)
    without = await post_form(
        console_client, "/admin/login", {"email": email, "password": helpers.PASSWORD}, csrf=False
    )
    assert without.status_code == 403
    assert COOKIE not in _cookie(without)
    assert (await sign_in(console_client, email)).status_code == 303

    sign_out = await post_form(console_client, "/admin/", {}, action="/admin/logout", csrf=False)

    assert sign_out.status_code == 403
    assert (await console_client.get("/admin/")).status_code == 200  # still signed in


async def test_two_factor_administrators_give_a_code(
    app: FastAPI, context: AppContext, console_client: httpx.AsyncClient
) -> None:
    clock = mfa.TotpClock(app, start=utcnow())  # the console checks codes at the time it is
    email = await account(context)
    headers = helpers.bearer((await helpers.login(console_client, email))["access_token"])
    secret = (await mfa.enrol(console_client, headers)).json()["secret"]
    confirmed = await console_client.post(mfa.TOTP_CONFIRM, json={"code": clock.code(secret)}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text

    without = await sign_in(console_client, email)
    unused = next(code for code in ("000000", "111111") if code not in {clock.code(secret, steps=s) for s in (0, 1, 2)})
    wrong = await sign_in(console_client, email, code=unused)
    right = await sign_in(console_client, email, code=clock.code(secret, steps=1))

    assert without.status_code == 401
    assert "two-factor authentication on" in without.text
    assert wrong.status_code == 401
    assert right.status_code == 303, right.text


@pytest.mark.settings(rate_limit_login="2/minute")
async def test_signing_in_is_limited_as_the_api_login_is(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    email = await account(context)
    for _ in range(2):
        assert (await sign_in(console_client, email, password="a wrong password here")).status_code == 401

    limited = await sign_in(console_client, email)

    assert limited.status_code == 429
    assert "Retry-After" in limited.headers


async def test_console_pages_carry_the_console_policy(console_client: httpx.AsyncClient) -> None:
    page = await console_client.get("/admin/login")

    assert page.headers["content-security-policy"] == CONSOLE_CSP.decode()
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "private, no-store"
    # Nothing is loaded from elsewhere: every address the page names is the service's.
    addresses = re.findall(r"(?:src|href)=\"(https?://[^/\"]+)|url\(['\"]?(https?://[^/'\")]+)", page.text)
    assert {found for pair in addresses for found in pair if found} == {CONSOLE_URL}
    api = await console_client.get("/healthz")
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


@pytest.mark.settings(admin_enabled=False)
async def test_a_switched_off_console_serves_nothing(console_client: httpx.AsyncClient) -> None:
    for path in ["/admin/", "/admin/login", "/admin/static/js/sa-dom.js"]:
        assert (await console_client.get(path)).status_code == 404, path
