"""Password reset, end to end against a real SMTP server: the mail and its link, the token's single use, its
lifetime and what voids it, the sessions a reset ends, the same answer and the same work for an unknown address,
and the rate limits."""

from datetime import timedelta

import httpx
import pytest

from app.core.mail import send_mail
from app.features.users.jobs import MAIL_PASSWORD_RESET
from app.features.users.models import TokenPurpose
from app.features.users.tokens import PASSWORD_RESET_TOKENS
from tests import helpers
from tests.support import sessions
from tests.support.auth import assert_problem
from tests.support.mailing import Mailing, age_tokens, jobs_settled, link_token, tokens_of

RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
SUBJECT = "Reset your password"
NEW_PASSWORD = "a new passphrase after forgetting"
FRONTEND = "https://app.forge.test"

pytestmark = pytest.mark.settings(frontend_url=FRONTEND)


async def ask_reset(client: httpx.AsyncClient, email: str, **headers: str) -> httpx.Response:
    return await client.post(RESET, json={"email": email}, headers=headers)


async def reset_token(mailing: Mailing, email: str, *, number: int = 1) -> str:
    """Ask for a reset of `email`'s password (the `number`th) and take the token from its mail."""
    assert (await ask_reset(mailing.client, email)).status_code == 202
    return link_token(await mailing.mail_to(email, subject=SUBJECT, number=number), "reset-password")


async def confirm(client: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD) -> httpx.Response:
    return await client.post(CONFIRM, json={"token": token, "new_password": password})


async def can_log_in(client: httpx.AsyncClient, email: str, password: str) -> bool:
    response = await client.post(sessions.TOKEN, data={"username": email, "password": password})
    assert response.status_code in {200, 401}, response.text
    return response.status_code == 200


async def new_account(client: httpx.AsyncClient) -> str:
    return str((await helpers.register(client))["email"])


# --- The whole way -------------------------------------------------------------------------------------------------


async def test_forgot_password_mail_link_new_password_and_every_old_session_ends(mailing: Mailing) -> None:
    client = mailing.client
    user = await helpers.register(client)
    email = user["email"]
    phone, laptop = await sessions.login(client, email), await sessions.login(client, email)

    asked = await ask_reset(client, email)
    assert asked.status_code == 202
    mail = await mailing.mail_to(email, subject=SUBJECT)
    assert f"{FRONTEND}/reset-password?token=fgp_" in mail.text
    assert "30 minutes" in mail.text
    token = link_token(mail, "reset-password")

    assert (await confirm(client, token)).status_code == 204
    for old in (phone, laptop):
        assert not await sessions.access_works(client, old["access_token"])
        assert_problem(await sessions.refresh(client, old["refresh_token"]), 401)
    assert not await can_log_in(client, email, helpers.PASSWORD)
    fresh = await sessions.login(client, email, password=NEW_PASSWORD)
    me = await client.get(sessions.ME, headers=helpers.bearer(fresh["access_token"]))
    assert me.json()["email_verified"] is True  # the link reached the address: it is proven
    assert await tokens_of(mailing.database, email, TokenPurpose.PASSWORD_RESET) == []


# --- No enumeration ---------------------------------------------------------------------------------------------


async def test_an_unknown_address_gets_the_same_answer_and_the_same_job_and_no_mail(mailing: Mailing) -> None:
    client = mailing.client
    known = await new_account(client)
    await mailing.mail_to(known, subject="Confirm your e-mail address")  # registration's, out of the way
    before = len(await jobs_settled(mailing.database))

    for_known = await ask_reset(client, known)
    for_unknown = await ask_reset(client, "nobody-here@example.com")
    assert (for_known.status_code, for_known.json()) == (for_unknown.status_code, for_unknown.json())

    jobs = (await jobs_settled(mailing.database))[before:]
    asked = [job for job in jobs if job.type == MAIL_PASSWORD_RESET.name]
    assert [job.payload["email"] for job in asked] == [known, "nobody-here@example.com"]
    mailed = [job for job in jobs if job.type == send_mail.name]
    assert [job.payload["to"] for job in mailed] == [known]  # the job decided; the unknown address got nothing
    assert [m.recipients for m in mailing.smtp.received if m.subject == SUBJECT] == [[known]]


async def test_a_deactivated_account_is_mailed_nothing_and_its_earlier_link_is_refused(
    mailing: Mailing, admin_of_mailing: helpers.Headers
) -> None:
    client = mailing.client
    user = await helpers.register(client)
    token = await reset_token(mailing, user["email"])
    deactivate = await client.patch(f"/api/v1/users/{user['id']}", json={"is_active": False}, headers=admin_of_mailing)
    assert deactivate.status_code == 200

    assert (await ask_reset(client, user["email"])).status_code == 202
    await jobs_settled(mailing.database)
    assert len([m for m in mailing.smtp.received if m.subject == SUBJECT]) == 1
    assert_problem(await confirm(client, token), 400, slug="invalid-token")


# --- The token: once, 30 minutes, the last one, the current password ------------------------------------------------


async def test_a_reset_link_works_once(mailing: Mailing) -> None:
    email = await new_account(mailing.client)
    token = await reset_token(mailing, email)
    assert (await confirm(mailing.client, token)).status_code == 204
    again = await confirm(mailing.client, token, "yet another passphrase, please")
    body = assert_problem(again, 400, slug="invalid-token")
    assert token not in again.text
    assert body["title"] == "Invalid or Expired Link"
    assert await can_log_in(mailing.client, email, NEW_PASSWORD)


async def test_a_reset_link_lasts_30_minutes(mailing: Mailing) -> None:
    email = await new_account(mailing.client)
    token = await reset_token(mailing, email)
    await age_tokens(mailing.database, email, TokenPurpose.PASSWORD_RESET, timedelta(minutes=29, seconds=50))
    assert (await confirm(mailing.client, token)).status_code == 204

    token = await reset_token(mailing, email, number=2)
    await age_tokens(mailing.database, email, TokenPurpose.PASSWORD_RESET, timedelta(minutes=30, seconds=1))
    assert_problem(await confirm(mailing.client, token, "not set: the link expired"), 400, slug="invalid-token")
    assert await can_log_in(mailing.client, email, NEW_PASSWORD)


async def test_a_second_reset_voids_the_first_link(mailing: Mailing) -> None:
    email = await new_account(mailing.client)
    first = await reset_token(mailing, email)
    second = await reset_token(mailing, email, number=2)
    assert first != second
    assert_problem(await confirm(mailing.client, first), 400, slug="invalid-token")
    assert (await confirm(mailing.client, second)).status_code == 204


async def test_a_password_change_voids_the_reset_link(mailing: Mailing) -> None:
    client = mailing.client
    email = await new_account(client)
    token = await reset_token(mailing, email)
    tokens = await sessions.login(client, email)
    change = {"current_password": helpers.PASSWORD, "new_password": "remembered it after all"}
    changed = await client.post(
        "/api/v1/users/me/password", json=change, headers=helpers.bearer(tokens["access_token"])
    )
    assert changed.status_code == 204
    assert_problem(await confirm(client, token), 400, slug="invalid-token")
    assert await can_log_in(client, email, "remembered it after all")


async def test_a_refused_new_password_changes_nothing_and_the_link_still_works(mailing: Mailing) -> None:
    client = mailing.client
    email = await new_account(client)
    token = await reset_token(mailing, email)
    tokens = await sessions.login(client, email)
    short = await confirm(client, token, "too short")
    assert helpers.error_pointers(short) == ["#/new_password"]
    assert await sessions.access_works(client, tokens["access_token"])
    assert len(await tokens_of(mailing.database, email, TokenPurpose.PASSWORD_RESET)) == 1
    assert (await confirm(client, token)).status_code == 204


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "fgp_" + "a" * 38,  # the right shape, a wrong checksum
        PASSWORD_RESET_TOKENS.generate(),  # well formed, never issued
    ],
    ids=["malformed", "wrong-checksum", "never-issued"],  # the same ids in every xdist worker: the last is random
)
async def test_made_up_tokens_are_refused(mailing: Mailing, token: str) -> None:
    email = await new_account(mailing.client)
    await reset_token(mailing, email)  # a live token exists: a made-up one still matches nothing
    assert_problem(await confirm(mailing.client, token), 400, slug="invalid-token")
    assert await can_log_in(mailing.client, email, helpers.PASSWORD)


async def test_a_verification_token_does_not_reset_a_password(mailing: Mailing) -> None:
    client = mailing.client
    email = await new_account(client)
    verification = link_token(await mailing.mail_to(email, subject="Confirm your e-mail address"), "verify-email")
    assert_problem(await confirm(client, verification), 400, slug="invalid-token")
    assert await can_log_in(client, email, helpers.PASSWORD)


# --- Rate limits (no mail needed) ------------------------------------------------------------------------------


@pytest.mark.settings(rate_limit_password_reset_account="2/hour", trusted_proxies="127.0.0.1")
async def test_resets_are_limited_per_address_whoever_asks_and_whether_or_not_it_has_an_account(
    client: httpx.AsyncClient,
) -> None:
    known = await new_account(client)
    for address in (known, "nobody@example.com"):
        statuses = [
            (await ask_reset(client, address, **{"x-forwarded-for": f"203.0.113.{i}"})).status_code for i in range(3)
        ]
        assert statuses == [202, 202, 429]
    assert (await ask_reset(client, "someone-else@example.com")).status_code == 202


@pytest.mark.settings(rate_limit_password_reset="3/minute")
async def test_resets_and_their_confirmations_are_limited_per_client(client: httpx.AsyncClient) -> None:
    statuses = [(await ask_reset(client, f"person{i}@example.com")).status_code for i in range(3)]
    assert statuses == [202, 202, 202]
    limited = await confirm(client, "fgp_whatever")
    assert_problem(limited, 429, slug="rate-limited")
    assert int(limited.headers["retry-after"]) > 0


# --- Fixtures --------------------------------------------------------------------------------------------------


@pytest.fixture
async def admin_of_mailing(mailing: Mailing) -> helpers.Headers:
    """An administrator of the mailing app (committed, as its requests are)."""
    return await helpers.committed_admin_headers(mailing.context, mailing.client)
