"""What a correct provider never sends, and GitHub: against the stand-in (tests/support/oidc_standin.py), a real
HTTP provider on loopback that checks PKCE and signs whatever ID token the test asks for."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from app.config import Settings
from tests import helpers
from tests.support.app import Running
from tests.support.oidc import Browser
from tests.support.oidc_standin import CLIENT_ID, CLIENT_SECRET, StandIn, stand_in
from tests.support.settings import BASE_URL, make_settings

FRONTEND = "https://app.forge.test"


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with stand_in() as running:
        yield running


@pytest.fixture
def settings(database_url: str, standin: StandIn) -> Settings:
    credentials = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    return make_settings(
        database_url,
        frontend_url=FRONTEND,
        oidc_providers={
            "standin": {"issuer": standin.base, **credentials},
            "github": {"kind": "github", "base_url": standin.base, **credentials},
        },
    )


@pytest.fixture
async def browser(client: httpx.AsyncClient, started: Running, settings: Settings) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(mounts={BASE_URL: httpx.ASGITransport(app=started.asgi)}, timeout=30) as http:
        yield Browser(http=http, frontend_url=settings.frontend_url)


async def account_of(browser: Browser, client: httpx.AsyncClient, code: str) -> dict[str, Any]:
    pair = await browser.exchange(code)
    assert pair.status_code == 200, pair.text
    response = await client.get("/api/v1/users/me", headers=helpers.bearer(pair.json()["access_token"]))
    body: dict[str, Any] = response.json()
    return body


async def test_a_correct_id_token_signs_in_and_pkce_was_checked(
    browser: Browser, standin: StandIn, client: httpx.AsyncClient
) -> None:
    standin.email = helpers.unique_email("standin")

    landing = await browser.sign_in("standin")

    assert (await account_of(browser, client, landing.params["code"]))["email"] == standin.email
    assert standin.pkce_checked == 1  # the token request carried the verifier of the S256 challenge


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"aud": "another-client"}, "an ID token issued to another client"),
        ({"aud": [CLIENT_ID, "another-client"]}, "several audiences and no azp naming us"),
        ({"iss": "https://impostor.example"}, "another issuer"),
        ({"nonce": "not-the-sign-ins-nonce"}, "a nonce of another sign-in"),
        ({"nonce": None}, "no nonce"),
        ({"exp": 1_000_000_000}, "expired long ago"),
        ({"iat": None}, "no iat"),
    ],
)
async def test_an_id_token_that_does_not_hold_is_refused(
    browser: Browser, standin: StandIn, claims: dict[str, Any], why: str
) -> None:
    standin.id_token_claims = claims

    landing = await browser.sign_in("standin", redirect_to="/in")

    assert landing.url == f"{FRONTEND}/in?error=invalid-id-token", why


async def test_a_rotated_key_is_fetched_once(browser: Browser, standin: StandIn, client: httpx.AsyncClient) -> None:
    standin.email = helpers.unique_email("keys")
    await account_of(browser, client, (await browser.sign_in("standin")).params["code"])  # keys cached
    standin.rotate_keys()

    # A rotation: the new key id is fetched once, and the sign-in succeeds.
    assert "code" in (await browser.sign_in("standin")).params
    requests = [r for r in standin.requests if r == "GET /jwks"]
    assert len(requests) == 2


async def test_a_token_signed_with_a_key_the_provider_does_not_publish_is_refused(
    browser: Browser, standin: StandIn
) -> None:
    standin.forger_key = RSAKey.generate_key(2048, auto_kid=True)

    assert (await browser.sign_in("standin")).params == {"error": "invalid-id-token"}
    assert standin.requests.count("GET /jwks") == 2  # the unknown key id was looked for once more, not again


async def test_github_signs_in_with_its_user_and_primary_verified_address(
    browser: Browser, standin: StandIn, client: httpx.AsyncClient
) -> None:
    email = helpers.unique_email("octo")
    standin.github_emails = [
        {"email": "old@example.org", "primary": False, "verified": True},
        {"email": email, "primary": True, "verified": True},
    ]

    landing = await browser.sign_in("github", redirect_to="/dashboard")

    assert landing.path == "/dashboard"
    account = await account_of(browser, client, landing.params["code"])
    assert (account["email"], account["full_name"]) == (email, "Octo Cat")
    assert standin.pkce_checked == 1
    listed = await client.get("/api/v1/auth/providers")
    assert {"name": "github", "display_name": "GitHub", "kind": "github"} in listed.json()["providers"]


async def test_github_identity_is_its_user_id_not_its_login(
    browser: Browser, standin: StandIn, client: httpx.AsyncClient
) -> None:
    standin.github_emails = [{"email": helpers.unique_email("octo"), "primary": True, "verified": True}]
    first = await account_of(browser, client, (await browser.sign_in("github")).params["code"])
    standin.github_user = {**standin.github_user, "login": "renamed-octo"}

    second = await account_of(browser, client, (await browser.sign_in("github")).params["code"])

    assert second["id"] == first["id"]


async def test_github_without_an_address_cannot_make_an_account(browser: Browser, standin: StandIn) -> None:
    standin.github_user = {"id": 777, "login": "private"}
    standin.github_emails = []

    assert (await browser.sign_in("github")).params == {"error": "email-required"}


async def test_a_write_committed_while_the_provider_answers_does_not_break_the_callback(
    started: Running, committing_client: httpx.AsyncClient, standin: StandIn, settings: Settings
) -> None:
    """The callback waits on the provider between reading its flow and writing the account: another request's
    write committed meanwhile (on SQLite, a transaction that read before it would be refused) changes nothing."""
    loop = asyncio.get_running_loop()
    registered: list[dict[str, Any]] = []

    def another_request_writes() -> None:
        future = asyncio.run_coroutine_threadsafe(helpers.register(committing_client), loop)
        registered.append(future.result(timeout=30))

    standin.on_token = another_request_writes
    standin.email = helpers.unique_email("concurrent")
    async with httpx.AsyncClient(mounts={BASE_URL: httpx.ASGITransport(app=started.asgi)}) as http:
        browser = Browser(http=http, frontend_url=settings.frontend_url)
        landing = await browser.sign_in("standin")
        pair = await browser.exchange(landing.params["code"])

    assert len(registered) == 1
    assert pair.status_code == 200, pair.text
    account = await committing_client.get("/api/v1/users/me", headers=helpers.bearer(pair.json()["access_token"]))
    assert account.json()["email"] == standin.email
