"""Sign-in through a real OpenID Connect provider on loopback (oidc-provider-mock), driven as a browser drives it:
redirects followed, cookies kept, the provider's authorization form submitted. The frontend is where the flow ends.
"""

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.database import utcnow
from app.features.oidc.dependencies import FLOW_COOKIE
from app.features.oidc.models import OidcLoginCode
from app.features.sessions.dependencies import CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE
from app.features.users.models import User
from app.main import create_app
from tests import helpers
from tests.support.app import Running, running
from tests.support.auth import assert_problem
from tests.support.mfa import TotpClock, complete, enabled_user
from tests.support.oidc import Browser, Landing, MockProvider, mock_provider, silent_port
from tests.support.settings import BASE_URL, make_settings

FRONTEND = "https://app.forge.test"


@pytest.fixture
def provider() -> Iterator[MockProvider]:
    with mock_provider() as running:
        yield running


@pytest.fixture
def settings(database_url: str, provider: MockProvider, request: pytest.FixtureRequest) -> Settings:
    overrides: dict[str, Any] = {"frontend_url": FRONTEND, "oidc_providers": {"mock": provider.settings()}}
    for marker in reversed(list(request.node.iter_markers("settings"))):
        overrides.update(marker.kwargs)
    return make_settings(database_url, **overrides)


@pytest.fixture
async def browser(client: httpx.AsyncClient, started: Running, settings: Settings) -> AsyncIterator[Browser]:
    """A browser (the `client` fixture's overrides make its requests join the test's transaction)."""
    transport = httpx.ASGITransport(app=started.asgi)
    async with httpx.AsyncClient(mounts={BASE_URL: transport}, timeout=30) as http:
        yield Browser(http=http, frontend_url=settings.frontend_url)


async def user_by_email(db_session: AsyncSession, email: str) -> User | None:
    statement = select(User).where(User.email == email).execution_options(populate_existing=True)
    return (await db_session.execute(statement)).scalar_one_or_none()


async def signed_in(browser: Browser, landing: Landing) -> dict[str, Any]:
    assert set(landing.params) == {"code"}, landing
    response = await browser.exchange(landing.params["code"])
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


async def me(client: httpx.AsyncClient, access_token: str) -> dict[str, Any]:
    response = await client.get("/api/v1/users/me", headers=helpers.bearer(access_token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_providers_are_listed_for_login_buttons(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/auth/providers")
    assert response.status_code == 200
    assert response.json() == {"providers": [{"name": "mock", "display_name": "Mock", "kind": "oidc"}]}
    assert "mock-client-secret" not in response.text


async def test_a_first_sign_in_makes_an_account_and_a_session(
    browser: Browser, provider: MockProvider, client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    email = helpers.unique_email("alice")
    provider.set_user("alice", email=email, email_verified=True, name="Alice Liddell")

    landing = await browser.sign_in(subject="alice", redirect_to="/welcome")

    assert landing.url.startswith(f"{FRONTEND}/welcome?code=fgc_")
    assert (BASE_URL.split("//")[1], FLOW_COOKIE) not in browser.cookies  # the flow's cookie is gone
    pair = await signed_in(browser, landing)
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    account = await me(client, pair["access_token"])
    assert (account["email"], account["full_name"]) == (email, "Alice Liddell")
    user = await user_by_email(db_session, email)
    assert user is not None
    assert (user.hashed_password, user.email_verified) == (None, True)
    # An OIDC session rotates as every session does.
    rotated = await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert rotated.status_code == 200, rotated.text


async def test_a_second_sign_in_reuses_the_identity(
    browser: Browser, provider: MockProvider, client: httpx.AsyncClient
) -> None:
    provider.set_user("bob", email=helpers.unique_email("bob"), email_verified=True)
    first = await me(client, (await signed_in(browser, await browser.sign_in(subject="bob")))["access_token"])
    # The provider's address changes: the identity is (provider, subject), so it is still the same account.
    renamed = helpers.unique_email("bob-renamed")
    provider.set_user("bob", email=renamed, email_verified=True)

    pair = await signed_in(browser, await browser.sign_in(subject="bob"))

    assert (await me(client, pair["access_token"]))["id"] == first["id"]
    identities = await client.get("/api/v1/users/me/identities", headers=helpers.bearer(pair["access_token"]))
    assert [(i["provider"], i["email"]) for i in identities.json()] == [("mock", renamed)]


async def test_a_wrong_state_is_refused(browser: Browser, provider: MockProvider) -> None:
    provider.set_user("carol", email=helpers.unique_email("carol"), email_verified=True)
    form = await browser.go("/api/v1/auth/oidc/mock/login", params={"redirect_to": "/account"})
    assert isinstance(form, httpx.Response)
    forged = str(form.request.url.copy_set_param("state", "fgs_not-the-state-this-browser-was-given"))

    landing = await browser.go(forged, method="POST", data={"sub": "carol"})

    assert isinstance(landing, Landing)
    assert landing.params == {"error": "invalid-state"}


async def test_a_replayed_state_is_refused(browser: Browser, provider: MockProvider) -> None:
    """The callback URL comes back a second time (the back button, or an attacker who saw it): the state was used."""
    provider.set_user("dave", email=helpers.unique_email("dave"), email_verified=True)
    form = await browser.go("/api/v1/auth/oidc/mock/login")
    assert isinstance(form, httpx.Response)
    to_callback = await browser.request("POST", str(form.request.url), data={"sub": "dave"})
    callback = to_callback.headers["location"]
    flow_cookie = dict(browser.cookies)
    first = await browser.go(callback)
    assert isinstance(first, Landing)
    assert "code" in first.params
    browser.cookies.update(flow_cookie)  # even with the flow's cookie put back

    replayed = await browser.go(callback)

    assert isinstance(replayed, Landing)
    assert replayed.params == {"error": "invalid-state"}


async def test_a_callback_without_the_browsers_cookie_is_refused(browser: Browser, provider: MockProvider) -> None:
    """Login CSRF: an attacker's own callback URL, opened in the victim's browser, lacks the victim's flow cookie."""
    provider.set_user("mallory", email=helpers.unique_email("mallory"), email_verified=True)
    form = await browser.go("/api/v1/auth/oidc/mock/login")
    assert isinstance(form, httpx.Response)
    callback = (await browser.request("POST", str(form.request.url), data={"sub": "mallory"})).headers["location"]
    browser.cookies.clear()  # another browser: the victim's

    landing = await browser.go(callback)

    assert isinstance(landing, Landing)
    assert landing.params == {"error": "invalid-state"}


async def test_a_one_time_code_works_once(browser: Browser, provider: MockProvider) -> None:
    provider.set_user("erin", email=helpers.unique_email("erin"), email_verified=True)
    landing = await browser.sign_in(subject="erin")
    await signed_in(browser, landing)

    replayed = await browser.exchange(landing.params["code"])

    assert_problem(replayed, 401, slug="unauthenticated")
    assert "access_token" not in replayed.text


async def test_an_expired_one_time_code_is_refused(
    browser: Browser, provider: MockProvider, db_session: AsyncSession
) -> None:
    provider.set_user("erin2", email=helpers.unique_email("erin"), email_verified=True)
    landing = await browser.sign_in(subject="erin2")
    await db_session.execute(update(OidcLoginCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    await db_session.commit()

    assert_problem(await browser.exchange(landing.params["code"]), 401)


async def test_a_code_from_another_sign_in_fails_on_its_nonce(browser: Browser, provider: MockProvider) -> None:
    """Code injection: the attacker's authorization code (issued for the attacker's own sign-in, with its nonce),
    slipped into the victim's callback with the victim's own state. oidc-provider-mock does not check PKCE, so the
    code's exchange succeeds; the ID token then carries the other sign-in's nonce, and is refused for it."""
    provider.set_user("attacker", email=helpers.unique_email("attacker"), email_verified=True)
    form = await browser.go("/api/v1/auth/oidc/mock/login")  # the attacker's sign-in, in the attacker's browser
    assert isinstance(form, httpx.Response)
    attackers = httpx.URL(
        (await browser.request("POST", str(form.request.url), data={"sub": "attacker"})).headers["location"]
    )
    form = await browser.go("/api/v1/auth/oidc/mock/login")  # the victim's sign-in
    assert isinstance(form, httpx.Response)
    victims = httpx.URL(
        (await browser.request("POST", str(form.request.url), data={"sub": "attacker"})).headers["location"]
    )

    landing = await browser.go(str(victims.copy_set_param("code", attackers.params["code"])))

    assert isinstance(landing, Landing)
    assert landing.params == {"error": "invalid-id-token"}


async def test_an_expired_id_token_is_refused(browser: Browser, database_url: str, client: httpx.AsyncClient) -> None:
    """A provider whose ID tokens are stale when they arrive (the mock's token lifetime set in the past)."""
    with mock_provider(token_lifetime=-timedelta(minutes=10)) as stale:
        stale.set_user("frank", email=helpers.unique_email("frank"), email_verified=True)
        settings = make_settings(database_url, frontend_url=FRONTEND, oidc_providers={"stale": stale.settings()})
        async with running(create_app(settings)) as app:
            http = httpx.AsyncClient(mounts={BASE_URL: httpx.ASGITransport(app=app.asgi)})
            async with http:
                landing = await Browser(http=http, frontend_url=FRONTEND).sign_in("stale", subject="frank")
    assert landing.params == {"error": "invalid-id-token"}


async def test_a_new_signing_key_is_fetched_when_an_id_token_names_it(
    browser: Browser, provider: MockProvider, client: httpx.AsyncClient
) -> None:
    """The provider rotates its keys (the mock, restarted on its port, signs with a new one): the cached JWKS lacks
    the new key id, so it is fetched again, once, and the sign-in succeeds."""
    email = helpers.unique_email("grace")
    provider.set_user("grace", email=email, email_verified=True)
    await signed_in(browser, await browser.sign_in(subject="grace"))  # the provider's keys are cached now
    provider.restart()
    provider.set_user("grace", email=email, email_verified=True)

    landing = await browser.sign_in(subject="grace")

    assert (await me(client, (await signed_in(browser, landing))["access_token"]))["email"] == email


@pytest.mark.parametrize(
    "redirect_to",
    ["https://evil.example/steal", "//evil.example/steal", "/\\evil.example", "@evil.example", "/ok?next=//evil"],
)
async def test_redirect_to_is_a_path_under_the_frontend_only(browser: Browser, redirect_to: str) -> None:
    landing = await browser.sign_in(redirect_to=redirect_to)

    assert landing.url == f"{FRONTEND}/?error=invalid-redirect"
    assert not any("localhost" in visit for visit in browser.visited[1:])  # the provider was never asked


async def test_a_declined_consent_lands_with_access_denied(browser: Browser, provider: MockProvider) -> None:
    form = await browser.go("/api/v1/auth/oidc/mock/login", params={"redirect_to": "/signin"})
    assert isinstance(form, httpx.Response)

    landing = await browser.go(str(form.request.url), method="POST", data={"action": "deny"})

    assert landing == Landing(
        url=f"{FRONTEND}/signin?error=access-denied", path="/signin", params={"error": "access-denied"}
    )


async def test_a_failure_is_logged_with_the_request_id(browser: Browser, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="app.security"):
        response = await browser.request("GET", "/api/v1/auth/oidc/mock/callback", params={"state": "x", "code": "y"})

    assert response.status_code == 302
    assert response.headers["location"] == f"{FRONTEND}/?error=invalid-state"
    [line] = [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == "oidc_sign_in_failed"]
    assert line["error"] == "invalid-state"
    assert line["request_id"] == response.headers["x-request-id"]


async def test_an_unknown_provider_lands_on_the_frontend(browser: Browser) -> None:
    landing = await browser.sign_in("nosuch")

    assert landing.params == {"error": "unknown-provider"}


async def test_a_provider_that_does_not_answer_ends_in_a_clear_error(
    database_url: str, client: httpx.AsyncClient
) -> None:
    """The provider accepts the connection and never answers: the sign-in ends on the frontend within the timeout
    (FORGE_OIDC_TIMEOUT_SECONDS), with provider-unavailable; a refused connection ends the same way."""
    with silent_port() as closed_later:
        pass  # closed: nothing listens there any more
    with silent_port() as hanging:
        providers = {
            "hanging": {"issuer": hanging, "client_id": "c", "client_secret": "s"},
            "refused": {"issuer": closed_later, "client_id": "c", "client_secret": "s"},
        }
        settings = make_settings(
            database_url, frontend_url=FRONTEND, oidc_providers=providers, oidc_timeout_seconds=0.5
        )
        async with (
            running(create_app(settings)) as app,
            httpx.AsyncClient(mounts={BASE_URL: httpx.ASGITransport(app=app.asgi)}) as http,
        ):
            browser = Browser(http=http, frontend_url=FRONTEND)
            assert (await browser.sign_in("hanging")).params == {"error": "provider-unavailable"}
            assert (await browser.sign_in("refused")).params == {"error": "provider-unavailable"}


async def test_an_unverified_address_does_not_link_to_an_existing_account(
    browser: Browser, provider: MockProvider, client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    """Someone who controls an account at the provider with the victim's address, which the provider has not
    verified, must not get into the victim's account."""
    victim = await helpers.register(client)
    await db_session.execute(update(User).where(User.id == victim["id"]).values(email_verified=True))
    await db_session.commit()
    provider.set_user("impostor", email=victim["email"], email_verified=False)

    landing = await browser.sign_in(subject="impostor", redirect_to="/login")

    assert landing.url == f"{FRONTEND}/login?error=account-exists"
    identities = await client.get("/api/v1/users/me/identities", headers=await helpers.user_headers(client))
    assert identities.json() == []


async def test_an_unverified_local_address_does_not_link_either(
    browser: Browser, provider: MockProvider, client: httpx.AsyncClient
) -> None:
    registered = await helpers.register(client)  # its address was never proven
    provider.set_user("owner", email=registered["email"], email_verified=True)

    assert (await browser.sign_in(subject="owner")).params == {"error": "account-exists"}


async def test_a_verified_address_links_to_the_verified_account(
    browser: Browser, provider: MockProvider, client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    registered = await helpers.register(client)
    await db_session.execute(update(User).where(User.id == registered["id"]).values(email_verified=True))
    await db_session.commit()
    provider.set_user("owner", email=registered["email"].upper(), email_verified=True)

    pair = await signed_in(browser, await browser.sign_in(subject="owner"))

    assert (await me(client, pair["access_token"]))["id"] == registered["id"]
    await helpers.login(client, registered["email"])  # the password still works


async def test_a_deactivated_user_cannot_sign_in_through_a_provider(
    browser: Browser, provider: MockProvider, client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    email = helpers.unique_email("henry")
    provider.set_user("henry", email=email, email_verified=True)
    unused = await browser.sign_in(subject="henry")  # a code issued before the deactivation
    await db_session.execute(update(User).where(User.email == email).values(is_active=False))
    await db_session.commit()

    assert (await browser.sign_in(subject="henry")).params == {"error": "account-disabled"}
    assert_problem(await browser.exchange(unused.params["code"]), 401)


@pytest.mark.settings(auth_cookies=True)
async def test_with_cookies_on_the_exchange_sets_the_refresh_cookie(browser: Browser, provider: MockProvider) -> None:
    provider.set_user("ivy", email=helpers.unique_email("ivy"), email_verified=True)
    landing = await browser.sign_in(subject="ivy")

    response = await browser.exchange(landing.params["code"])

    assert response.status_code == 200, response.text
    assert ("testserver", REFRESH_COOKIE) in browser.cookies
    assert response.headers[CSRF_HEADER] == browser.cookies["testserver", CSRF_COOKIE][0]


async def test_a_served_app_commits_the_sign_in_and_its_refusals(
    started: Running, committing_client: httpx.AsyncClient, provider: MockProvider, settings: Settings
) -> None:
    """Without the test transaction around it: the GET routes that write (start, callback) use real transactions,
    as a server runs them, on SQLite and PostgreSQL."""
    registered = await helpers.register(committing_client)
    provider.set_user("served", email=helpers.unique_email("served"), email_verified=True)
    provider.set_user("squatter", email=registered["email"], email_verified=False)
    async with httpx.AsyncClient(mounts={BASE_URL: httpx.ASGITransport(app=started.asgi)}) as http:
        browser = Browser(http=http, frontend_url=settings.frontend_url)

        refused = await browser.sign_in(subject="squatter")
        first = await signed_in(browser, await browser.sign_in(subject="served"))
        again = await signed_in(browser, await browser.sign_in(subject="served"))

    assert refused.params == {"error": "account-exists"}
    first_user = await me(committing_client, first["access_token"])
    assert (await me(committing_client, again["access_token"]))["id"] == first_user["id"]
    identities = await committing_client.get(
        "/api/v1/users/me/identities", headers=helpers.bearer(first["access_token"])
    )
    assert [i["provider"] for i in identities.json()] == ["mock"]


async def test_a_provider_stands_in_for_the_password_only_two_factor_authentication_still_applies(
    app: FastAPI, browser: Browser, provider: MockProvider, client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    clock = TotpClock(app)
    user = await enabled_user(client, clock)
    await db_session.execute(update(User).where(User.id == user.id).values(email_verified=True))
    await db_session.commit()
    provider.set_user("second-factor", email=user.email, email_verified=True)

    landing = await browser.sign_in(subject="second-factor")
    answer = await browser.exchange(landing.params["code"])

    assert answer.status_code == 200, answer.text
    challenge = answer.json()
    assert challenge["token_type"] == "mfa"
    assert "access_token" not in challenge
    assert_problem(await complete(client, challenge["mfa_token"], "000000"), 401)
    completed = await complete(client, challenge["mfa_token"], clock.code(user.secret))
    assert completed.status_code == 200, completed.text
    assert (await me(client, completed.json()["access_token"]))["id"] == user.id
