"""E-mail verification and changes of address, end to end against a real SMTP server: the mail registration sends,
following its link, its lifetime and single use, sending another; a change of address that waits for the new
address's verification and tells the old one; and what a refused request leaves (nothing)."""

from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.core.mail import send_mail
from app.features.users.models import TokenPurpose
from tests import helpers
from tests.support import sessions
from tests.support.auth import assert_problem
from tests.support.mailing import Mailing, age_tokens, jobs_settled, link_token, tokens_of

VERIFY = "/api/v1/auth/verify-email"
RESEND = "/api/v1/auth/verify-email/resend"
CHANGE = "/api/v1/users/me/email"
CONFIRM_SUBJECT = "Confirm your e-mail address"
CONFIRM_NEW_SUBJECT = "Confirm your new e-mail address"
CHANGED_SUBJECT = "Your e-mail address was changed"
FRONTEND = "https://app.forge.test/accounts"

pytestmark = pytest.mark.settings(frontend_url=FRONTEND + "/")  # the trailing slash is dropped


async def verify(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(VERIFY, json={"token": token})


async def me(client: httpx.AsyncClient, headers: helpers.Headers) -> dict[str, Any]:
    response = await client.get(sessions.ME, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def signed_up(mailing: Mailing) -> tuple[str, helpers.Headers, str]:
    """A new account: its address, its authorization headers and the token of its registration mail."""
    email = helpers.unique_email()
    await helpers.register(mailing.client, email=email)
    headers = helpers.bearer((await sessions.login(mailing.client, email))["access_token"])
    token = link_token(await mailing.mail_to(email, subject=CONFIRM_SUBJECT), "verify-email")
    return email, headers, token


async def change_address(
    client: httpx.AsyncClient, headers: helpers.Headers, email: str, password: str = helpers.PASSWORD
) -> httpx.Response:
    return await client.post(CHANGE, json={"email": email, "current_password": password}, headers=headers)


# --- Registration's mail ------------------------------------------------------------------------------------------


async def test_register_read_the_mail_follow_the_link_verified(mailing: Mailing) -> None:
    client = mailing.client
    email = helpers.unique_email("Ada").capitalize()  # addresses are compared lower-cased
    registered = await helpers.register(client, email=email)
    assert registered["email_verified"] is False
    headers = helpers.bearer((await sessions.login(client, email))["access_token"])
    assert (await me(client, headers))["email_verified"] is False

    mail = await mailing.mail_to(email.lower(), subject=CONFIRM_SUBJECT)
    assert f"{FRONTEND}/verify-email?token=fgv_" in mail.text
    assert "72 hours" in mail.text
    verified = await verify(client, link_token(mail, "verify-email"))
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"email": email.lower(), "email_verified": True}
    assert (await me(client, headers))["email_verified"] is True


async def test_a_verification_link_works_once(mailing: Mailing) -> None:
    _, headers, token = await signed_up(mailing)
    assert (await verify(mailing.client, token)).status_code == 200
    again = await verify(mailing.client, token)
    assert_problem(again, 400, slug="invalid-token")
    assert token not in again.text
    assert (await me(mailing.client, headers))["email_verified"] is True


async def test_a_verification_link_lasts_72_hours_and_another_can_be_asked_for(mailing: Mailing) -> None:
    client = mailing.client
    email, headers, token = await signed_up(mailing)
    await age_tokens(mailing.database, email, TokenPurpose.EMAIL_VERIFICATION, timedelta(hours=72, seconds=1))
    assert_problem(await verify(client, token), 400, slug="invalid-token")
    assert (await me(client, headers))["email_verified"] is False

    resent = await client.post(RESEND, headers=headers)
    assert resent.status_code == 202
    assert email in resent.json()["detail"]
    fresh = link_token(await mailing.mail_to(email, subject=CONFIRM_SUBJECT, number=2), "verify-email")
    await age_tokens(mailing.database, email, TokenPurpose.EMAIL_VERIFICATION, timedelta(hours=71, minutes=59))
    assert (await verify(client, fresh)).status_code == 200


async def test_sending_another_link_voids_the_earlier_one(mailing: Mailing) -> None:
    client = mailing.client
    email, headers, first = await signed_up(mailing)
    assert (await client.post(RESEND, headers=headers)).status_code == 202
    second = link_token(await mailing.mail_to(email, subject=CONFIRM_SUBJECT, number=2), "verify-email")
    assert_problem(await verify(client, first), 400, slug="invalid-token")
    assert (await verify(client, second)).status_code == 200


async def test_a_verified_address_is_not_sent_another_link(mailing: Mailing) -> None:
    _, headers, token = await signed_up(mailing)
    assert (await verify(mailing.client, token)).status_code == 200
    assert_problem(await mailing.client.post(RESEND, headers=headers), 409, slug="conflict")
    assert_problem(await mailing.client.post(RESEND), 401, slug="unauthenticated")


async def test_a_registration_that_fails_mails_nothing(mailing: Mailing) -> None:
    email = await helpers.register(mailing.client)
    taken = await mailing.client.post(
        "/api/v1/auth/register", json={"email": email["email"], "password": helpers.PASSWORD}
    )
    assert_problem(taken, 409)
    jobs = await jobs_settled(mailing.database)
    assert [job.payload["to"] for job in jobs if job.type == send_mail.name] == [email["email"]]
    assert len(await tokens_of(mailing.database, email["email"], TokenPurpose.EMAIL_VERIFICATION)) == 1


async def test_a_reset_token_does_not_verify_an_address(mailing: Mailing) -> None:
    email, headers, _ = await signed_up(mailing)
    assert (await mailing.client.post("/api/v1/auth/password-reset", json={"email": email})).status_code == 202
    reset = link_token(await mailing.mail_to(email, subject="Reset your password"), "reset-password")
    assert_problem(await verify(mailing.client, reset), 400, slug="invalid-token")
    assert (await me(mailing.client, headers))["email_verified"] is False


@pytest.mark.settings(require_verified_email=True)
async def test_with_verified_addresses_required_following_the_link_unlocks_api_keys(mailing: Mailing) -> None:
    _, headers, token = await signed_up(mailing)
    key = {"name": "ci", "scopes": ["api:read"]}
    refused = await mailing.client.post("/api/v1/api-keys", json=key, headers=headers)
    assert_problem(refused, 403, slug="email-not-verified")
    assert (await verify(mailing.client, token)).status_code == 200
    assert (await mailing.client.post("/api/v1/api-keys", json=key, headers=headers)).status_code == 201


# --- Changing the address -----------------------------------------------------------------------------------------


async def test_a_new_address_takes_effect_once_verified_and_the_old_one_is_told(mailing: Mailing) -> None:
    client = mailing.client
    old, headers, registration = await signed_up(mailing)
    assert (await verify(client, registration)).status_code == 200
    new = helpers.unique_email("moved")

    asked = await change_address(client, headers, new.upper())
    assert asked.status_code == 202, asked.text
    assert (asked.json()["email"], asked.json()["pending_email"]) == (old, new)
    assert await _can_log_in(client, old)  # nothing changed yet
    assert not await _can_log_in(client, new)

    mail = await mailing.mail_to(new, subject=CONFIRM_NEW_SUBJECT)
    verified = await verify(client, link_token(mail, "verify-email"))
    assert verified.json() == {"email": new, "email_verified": True}
    account = await me(client, headers)
    assert (account["email"], account["pending_email"], account["email_verified"]) == (new, None, True)
    notice = await mailing.mail_to(old, subject=CHANGED_SUBJECT)
    assert old in notice.text
    assert new in notice.text
    assert "token" not in notice.text
    assert await _can_log_in(client, new)
    assert not await _can_log_in(client, old)


async def test_a_change_of_address_voids_the_reset_links_mailed_to_the_old_one(mailing: Mailing) -> None:
    client = mailing.client
    old, headers, _ = await signed_up(mailing)
    assert (await client.post("/api/v1/auth/password-reset", json={"email": old})).status_code == 202
    reset = link_token(await mailing.mail_to(old, subject="Reset your password"), "reset-password")
    new = helpers.unique_email("moved")
    assert (await change_address(client, headers, new)).status_code == 202
    assert (
        await verify(client, link_token(await mailing.mail_to(new, subject=CONFIRM_NEW_SUBJECT), "verify-email"))
    ).status_code == 200
    confirm = {"token": reset, "new_password": "a password for a stranger"}
    assert_problem(await client.post("/api/v1/auth/password-reset/confirm", json=confirm), 400, slug="invalid-token")


async def test_asking_for_a_change_voids_the_old_address_s_pending_link(mailing: Mailing) -> None:
    """One live verification link per account: the last one asked for."""
    client = mailing.client
    old, headers, registration = await signed_up(mailing)
    assert (await change_address(client, headers, helpers.unique_email("moved"))).status_code == 202
    assert_problem(await verify(client, registration), 400, slug="invalid-token")
    resent = await client.post(RESEND, headers=headers)  # the link goes to the address that waits: the new one
    assert resent.status_code == 202
    assert old not in resent.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "pointer"),
    [
        ({"current_password": "not the password at all"}, 422, "#/current_password"),
        ({"email": "taken"}, 409, None),
        ({"email": "own"}, 422, "#/email"),
    ],
)
async def test_a_refused_change_of_address_changes_and_mails_nothing(
    mailing: Mailing, body: dict[str, str], status: int, pointer: str | None
) -> None:
    client = mailing.client
    old, headers, _ = await signed_up(mailing)
    other = await helpers.register(client)
    new = {"taken": other["email"].upper(), "own": old}.get(body.get("email", ""), helpers.unique_email("moved"))
    before = await jobs_settled(mailing.database)

    refused = await change_address(client, headers, new, body.get("current_password", helpers.PASSWORD))
    problem = assert_problem(refused, status)
    if pointer is not None:
        assert [error["pointer"] for error in problem["errors"]] == [pointer]
    assert len(await jobs_settled(mailing.database)) == len(before)
    assert (await me(client, headers))["pending_email"] is None
    assert len(await tokens_of(mailing.database, old, TokenPurpose.EMAIL_VERIFICATION)) == 1  # registration's


async def test_an_address_another_account_took_meanwhile_is_409_and_changes_nothing(mailing: Mailing) -> None:
    client = mailing.client
    old, headers, _ = await signed_up(mailing)
    new = helpers.unique_email("contested")
    assert (await change_address(client, headers, new)).status_code == 202
    token = link_token(await mailing.mail_to(new, subject=CONFIRM_NEW_SUBJECT), "verify-email")
    await helpers.register(client, email=new)  # someone registers the address first

    assert_problem(await verify(client, token), 409, slug="conflict")
    account = await me(client, headers)
    assert (account["email"], account["pending_email"]) == (old, new)
    assert await tokens_of(mailing.database, old, TokenPurpose.EMAIL_VERIFICATION)  # the token was not used up


async def test_patch_me_refuses_an_address_and_says_where_it_changes(
    client: httpx.AsyncClient, user: helpers.Headers
) -> None:
    response = await client.patch(sessions.ME, json={"email": "elsewhere@example.com"}, headers=user)
    problem = assert_problem(response, 422, slug="validation-error")
    assert "POST /api/v1/users/me/email" in problem["errors"][0]["detail"]


@pytest.mark.settings(rate_limit_email_verification="2/hour")
async def test_verification_mail_is_limited_per_user(client: httpx.AsyncClient, user: helpers.Headers) -> None:
    statuses = [(await client.post(RESEND, headers=user)).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]
    other = await helpers.user_headers(client)
    assert (await client.post(RESEND, headers=other)).status_code == 202
    moved = await change_address(client, user, helpers.unique_email("moved"))
    assert_problem(moved, 429, slug="rate-limited")  # a change of address mails a link too


async def _can_log_in(client: httpx.AsyncClient, email: str) -> bool:
    response = await client.post(sessions.TOKEN, data={"username": email, "password": helpers.PASSWORD})
    return response.status_code == 200
