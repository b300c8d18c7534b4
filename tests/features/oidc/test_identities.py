"""Linking a provider's account from a signed-in session, listing and unlinking identities (oidc-provider-mock)."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.features.oidc.dependencies import FLOW_COOKIE
from tests import helpers
from tests.support.app import Running
from tests.support.auth import assert_problem, assert_unauthenticated
from tests.support.mailing import Mailing, link_token
from tests.support.oidc import LINK, Browser, MockProvider, mock_provider
from tests.support.settings import BASE_URL, make_settings

FRONTEND = "https://app.forge.test"
IDENTITIES = "/api/v1/users/me/identities"


@pytest.fixture
def provider() -> Iterator[MockProvider]:
    with mock_provider() as running:
        yield running


@pytest.fixture
def settings(database_url: str, provider: MockProvider) -> Settings:
    return make_settings(database_url, frontend_url=FRONTEND, oidc_providers={"mock": provider.settings()})


@pytest.fixture
async def browser(client: httpx.AsyncClient, started: Running, settings: Settings) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(mounts={BASE_URL: httpx.ASGITransport(app=started.asgi)}, timeout=30) as http:
        yield Browser(http=http, frontend_url=settings.frontend_url)


async def password_user(client: httpx.AsyncClient) -> tuple[dict[str, Any], helpers.Headers]:
    user = await helpers.register(client)
    return user, helpers.bearer((await helpers.login(client, user["email"]))["access_token"])


async def provider_user(browser: Browser, provider: MockProvider, subject: str) -> helpers.Headers:
    """A user made by a first sign-in through the provider: no password."""
    provider.set_user(subject, email=helpers.unique_email(subject), email_verified=True)
    landing = await browser.sign_in(subject=subject)
    response = await browser.exchange(landing.params["code"])
    assert response.status_code == 200, response.text
    return helpers.bearer(response.json()["access_token"])


async def test_a_signed_in_user_links_a_provider_account(
    browser: Browser, provider: MockProvider, client: httpx.AsyncClient
) -> None:
    """The address is the same but not verified here: no automatic link, and the user links it from a session."""
    user, headers = await password_user(client)
    provider.set_user("linked", email=user["email"], email_verified=True)
    assert (await browser.sign_in(subject="linked")).params == {"error": "account-exists"}

    landing = await browser.sign_in(subject="linked", path=LINK, redirect_to="/settings", headers=headers)

    assert landing.url == f"{FRONTEND}/settings?linked=mock"
    [identity] = (await client.get(IDENTITIES, headers=headers)).json()
    assert (identity["provider"], identity["email"]) == ("mock", user["email"])
    signed_in = await browser.sign_in(subject="linked")
    pair = (await browser.exchange(signed_in.params["code"])).json()
    assert (await client.get("/api/v1/users/me", headers=helpers.bearer(pair["access_token"]))).json()["id"] == user[
        "id"
    ]


async def test_an_identity_of_another_user_cannot_be_linked(
    browser: Browser, provider: MockProvider, client: httpx.AsyncClient
) -> None:
    await provider_user(browser, provider, "taken")
    _, headers = await password_user(client)

    landing = await browser.sign_in(subject="taken", path=LINK, headers=headers)

    assert landing.params == {"error": "identity-in-use"}
    assert (await client.get(IDENTITIES, headers=headers)).json() == []


async def test_linking_needs_a_signed_in_user(browser: Browser) -> None:
    response = await browser.request("GET", LINK.format(provider="mock"))

    assert_unauthenticated(response)
    assert FLOW_COOKIE not in response.headers.get("set-cookie", "")


async def test_a_script_gets_the_providers_url_as_json(
    browser: Browser, provider: MockProvider, client: httpx.AsyncClient
) -> None:
    _, headers = await password_user(client)

    response = await browser.request(
        "GET", LINK.format(provider="mock"), headers={**headers, "Accept": "application/json"}
    )

    assert response.status_code == 200, response.text
    assert response.json()["authorization_url"].startswith(f"{provider.issuer}/oauth2/authorize?")
    assert ("testserver", FLOW_COOKIE) in browser.cookies


async def test_the_only_way_to_sign_in_cannot_be_unlinked(
    browser: Browser, provider: MockProvider, client: httpx.AsyncClient
) -> None:
    headers = await provider_user(browser, provider, "solo")
    [identity] = (await client.get(IDENTITIES, headers=headers)).json()

    response = await client.delete(f"{IDENTITIES}/{identity['id']}", headers=headers)

    assert_problem(response, 409, slug="last-sign-in-method")
    assert len((await client.get(IDENTITIES, headers=headers)).json()) == 1


async def test_an_identity_is_unlinked_when_a_password_remains(
    browser: Browser, provider: MockProvider, client: httpx.AsyncClient
) -> None:
    user, headers = await password_user(client)
    provider.set_user("spare", email=helpers.unique_email("spare"), email_verified=True)
    await browser.sign_in(subject="spare", path=LINK, headers=headers)
    [identity] = (await client.get(IDENTITIES, headers=headers)).json()
    other = await provider_user(browser, provider, "other")
    [others] = (await client.get(IDENTITIES, headers=other)).json()

    assert_problem(await client.delete(f"{IDENTITIES}/{others['id']}", headers=headers), 404)
    response = await client.delete(f"{IDENTITIES}/{identity['id']}", headers=headers)

    assert response.status_code == 204
    assert (await client.get(IDENTITIES, headers=headers)).json() == []
    # Unlinked, the provider's account is a stranger: its next sign-in makes a new account.
    landing = await browser.sign_in(subject="spare")
    pair = (await browser.exchange(landing.params["code"])).json()
    assert (await client.get("/api/v1/users/me", headers=helpers.bearer(pair["access_token"]))).json()["id"] != user[
        "id"
    ]


async def test_a_user_without_a_password_cannot_log_in_with_one(
    browser: Browser, provider: MockProvider, client: httpx.AsyncClient
) -> None:
    email = helpers.unique_email("nopass")
    provider.set_user("nopass", email=email, email_verified=True)
    await browser.exchange((await browser.sign_in(subject="nopass")).params["code"])

    for password in ("None", "null", helpers.PASSWORD):
        response = await client.post("/api/v1/auth/token", data={"username": email, "password": password})
        assert_unauthenticated(response)


# --- A password reset proves the mailbox ----------------------------------------------------------------------------

RESET = "/api/v1/auth/password-reset"
NEW_PASSWORD = "the mailbox owner's own passphrase"


async def reset_password(mailing: Mailing, email: str) -> None:
    assert (await mailing.client.post(RESET, json={"email": email})).status_code == 202
    token = link_token(await mailing.mail_to(email, subject="Reset your password"), "reset-password")
    confirmed = await mailing.client.post(f"{RESET}/confirm", json={"token": token, "new_password": NEW_PASSWORD})
    assert confirmed.status_code == 204, confirmed.text


@asynccontextmanager
async def browser_of(mailing: Mailing) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(mounts={BASE_URL: httpx.ASGITransport(app=mailing.asgi)}, timeout=30) as http:
        yield Browser(http=http, frontend_url=FRONTEND)


async def test_a_password_reset_unlinks_a_stranger_who_made_the_account_with_an_unproven_address(
    mailing: Mailing, provider: MockProvider
) -> None:
    """A provider that does not verify addresses lets a stranger sign in as the victim's address, which makes the
    account; the mailbox's owner who takes the account over by a reset does not share it with the stranger."""
    email = helpers.unique_email("victim")
    provider.set_user("stranger", email=email, email_verified=False)
    async with browser_of(mailing) as browser:
        landing = await browser.sign_in(subject="stranger")
        stranger = (await browser.exchange(landing.params["code"])).json()

        await reset_password(mailing, email)

        assert_unauthenticated(
            await mailing.client.get("/api/v1/users/me", headers=helpers.bearer(stranger["access_token"]))
        )
        assert (await browser.sign_in(subject="stranger")).params == {"error": "account-exists"}
    owner = helpers.bearer((await helpers.login(mailing.client, email, password=NEW_PASSWORD))["access_token"])
    assert (await mailing.client.get(IDENTITIES, headers=owner)).json() == []


async def test_a_password_reset_keeps_identities_of_an_account_whose_address_was_proven(
    mailing: Mailing, provider: MockProvider
) -> None:
    email = helpers.unique_email("owner")
    provider.set_user("owner", email=email, email_verified=True)
    async with browser_of(mailing) as browser:
        first = (await browser.exchange((await browser.sign_in(subject="owner")).params["code"])).json()

        await reset_password(mailing, email)

        again = (await browser.exchange((await browser.sign_in(subject="owner")).params["code"])).json()
    revoked = await mailing.client.get("/api/v1/users/me", headers=helpers.bearer(first["access_token"]))
    assert_unauthenticated(revoked)
    me = await mailing.client.get("/api/v1/users/me", headers=helpers.bearer(again["access_token"]))
    assert me.json()["email"] == email  # the same account, through the identity it kept
    assert len((await mailing.client.get(IDENTITIES, headers=helpers.bearer(again["access_token"]))).json()) == 1
