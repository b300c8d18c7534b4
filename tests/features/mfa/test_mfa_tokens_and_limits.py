"""The MFA token and the limits on code guessing: an MFA token is no access token (nor the reverse) and expires;
attempts are bounded per MFA token and wrong codes per account; two requests with one code get one session; cookies
come with the session, not with the challenge."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.features.sessions.dependencies import REFRESH_COOKIE
from app.features.sessions.models import UserSession
from tests import helpers
from tests.support import mfa
from tests.support.auth import assert_problem, assert_unauthenticated
from tests.support.mfa import TotpClock, complete, enabled_user, password_step

ME = "/api/v1/users/me"


@pytest.fixture
def clock(app: FastAPI, client: httpx.AsyncClient) -> TotpClock:  # the client first: it clears the overrides last
    del client
    return TotpClock(app)


def mfa_claims(settings: Settings, user_id: int, *, lifetime: timedelta, ends: timedelta) -> dict[str, object]:
    """The claims of an MFA token for `user_id` living `lifetime` and ending `ends` from now (negative: ended)."""
    now = datetime.now(UTC)
    return helpers.token_claims(
        settings,
        str(user_id),
        typ="mfa",
        jti=uuid.uuid4().hex,
        iat=int((now + ends - lifetime).timestamp()),
        exp=int((now + ends).timestamp()),
    )


def signed(settings: Settings, claims: dict[str, object]) -> str:
    return jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=settings.jwt_algorithm)


# --- The MFA token -----------------------------------------------------------------------------------------------


async def test_an_mfa_token_is_not_an_access_token_nor_the_reverse(
    client: httpx.AsyncClient, clock: TotpClock, db_session: AsyncSession
) -> None:
    user = await enabled_user(client, clock)
    sessions_before = await db_session.scalar(select(func.count()).select_from(UserSession))
    challenge = await password_step(client, user.email)
    assert await db_session.scalar(select(func.count()).select_from(UserSession)) == sessions_before  # none yet
    assert_unauthenticated(await client.get(ME, headers=helpers.bearer(challenge["mfa_token"])))
    assert_unauthenticated(await client.post("/api/v1/auth/refresh", json={"refresh_token": challenge["mfa_token"]}))
    # An access token (of a session of the user's) cannot stand in for the password step.
    access_token = user.headers["Authorization"].removeprefix("Bearer ")
    assert_unauthenticated(await complete(client, access_token, clock.code(user.secret)))
    assert (await complete(client, challenge["mfa_token"], clock.code(user.secret))).status_code == 200


async def test_an_mfa_token_expires(client: httpx.AsyncClient, clock: TotpClock, settings: Settings) -> None:
    user = await enabled_user(client, clock)
    lifetime = timedelta(seconds=settings.mfa_token_ttl_seconds)
    expired = signed(settings, mfa_claims(settings, user.id, lifetime=lifetime, ends=-timedelta(minutes=1)))
    refused = assert_unauthenticated(await complete(client, expired, clock.code(user.secret)))
    assert refused["detail"] == "The MFA token is invalid or has expired: log in again."
    # The same token minus the minute is good: what refused it was its expiry alone.
    alive = signed(settings, mfa_claims(settings, user.id, lifetime=lifetime, ends=timedelta(minutes=1)))
    assert (await complete(client, alive, clock.code(user.secret))).status_code == 200


async def test_an_mfa_token_longer_lived_than_the_setting_or_forged_is_refused(
    client: httpx.AsyncClient, clock: TotpClock, settings: Settings
) -> None:
    user = await enabled_user(client, clock)
    long_lived = mfa_claims(settings, user.id, lifetime=timedelta(hours=1), ends=timedelta(minutes=30))
    assert_unauthenticated(await complete(client, signed(settings, long_lived), clock.code(user.secret)))
    claims = mfa_claims(settings, user.id, lifetime=timedelta(minutes=5), ends=timedelta(minutes=4))
    forged = jwt.encode(claims, "an attacker's key that is long enough!", algorithm="HS256")
    assert_unauthenticated(await complete(client, forged, clock.code(user.secret)))
    without_id = {key: value for key, value in claims.items() if key != "jti"}
    assert_unauthenticated(await complete(client, signed(settings, without_id), clock.code(user.secret)))


# --- Limits ------------------------------------------------------------------------------------------------------


@pytest.mark.settings(rate_limit_mfa="3/hour")
async def test_attempts_with_one_mfa_token_are_limited(client: httpx.AsyncClient, clock: TotpClock) -> None:
    user = await enabled_user(client, clock)
    challenge = await password_step(client, user.email)
    for guess in ("000000", "111111", "222222"):
        assert_unauthenticated(await complete(client, challenge["mfa_token"], guess))
    limited = await complete(client, challenge["mfa_token"], clock.code(user.secret))  # even the right code
    assert_problem(limited, 429, slug="rate-limited")
    assert int(limited.headers["retry-after"]) > 0
    fresh = await password_step(client, user.email)  # a new token takes the password again
    assert (await complete(client, fresh["mfa_token"], clock.code(user.secret))).status_code == 200


@pytest.mark.settings(rate_limit_mfa_account="3/hour")
async def test_wrong_codes_are_limited_per_account_across_tokens_and_operations(
    client: httpx.AsyncClient, clock: TotpClock
) -> None:
    user = await enabled_user(client, clock)
    bystander = await enabled_user(client, clock)
    wrong_disable = await client.post(
        mfa.TOTP_DISABLE, json={"password": helpers.PASSWORD, "code": "000000"}, headers=user.headers
    )
    assert_problem(wrong_disable, 422, slug="validation-error")
    for guess in ("111111", "222222"):  # each with a new MFA token
        assert_unauthenticated(await complete(client, (await password_step(client, user.email))["mfa_token"], guess))
    challenge = await password_step(client, user.email)
    assert_problem(await complete(client, challenge["mfa_token"], clock.code(user.secret)), 429, slug="rate-limited")
    right_disable = await client.post(
        mfa.TOTP_DISABLE, json={"password": helpers.PASSWORD, "code": clock.code(user.secret)}, headers=user.headers
    )
    assert_problem(right_disable, 429, slug="rate-limited")
    # Another account's budget is its own.
    other = await password_step(client, bystander.email)
    assert (await complete(client, other["mfa_token"], clock.code(bystander.secret))).status_code == 200


@pytest.mark.settings(rate_limit_mfa_account="2/hour")
async def test_right_codes_spend_no_budget(client: httpx.AsyncClient, clock: TotpClock) -> None:
    user = await enabled_user(client, clock)
    for _ in range(4):
        challenge = await password_step(client, user.email)
        assert (await complete(client, challenge["mfa_token"], clock.code(user.secret))).status_code == 200
        clock.advance(steps=1)


@pytest.mark.settings(rate_limit_auth_failures="2/hour")
async def test_bad_mfa_tokens_spend_the_clients_authentication_failures(client: httpx.AsyncClient) -> None:
    for junk in ("junk", "more junk"):
        assert_unauthenticated(await complete(client, junk, "123456"))
    assert_problem(await complete(client, "still junk", "123456"), 429, slug="rate-limited")


# --- One code, two requests; cookies ----------------------------------------------------------------------------


async def test_two_requests_with_one_code_get_one_session(app: FastAPI, committing_client: httpx.AsyncClient) -> None:
    """Committed for real, at once: the conditional UPDATE of the last step lets exactly one through."""
    clock = TotpClock(app)
    user = await enabled_user(committing_client, clock)
    tokens = [(await password_step(committing_client, user.email))["mfa_token"] for _ in range(2)]
    code = clock.code(user.secret)
    answers = await asyncio.gather(*(complete(committing_client, token, code) for token in tokens))
    assert sorted(answer.status_code for answer in answers) == [200, 401]


@pytest.mark.settings(auth_cookies=True)
async def test_with_cookies_on_the_session_cookie_comes_with_the_session_not_the_challenge(
    client: httpx.AsyncClient, clock: TotpClock
) -> None:
    user = await enabled_user(client, clock)
    challenge = await client.post(mfa.TOKEN, data={"username": user.email, "password": helpers.PASSWORD})
    assert challenge.json()["token_type"] == "mfa"
    assert not challenge.headers.get_list("set-cookie")
    completed = await complete(client, challenge.json()["mfa_token"], clock.code(user.secret))
    assert completed.status_code == 200, completed.text
    assert any(header.startswith(f"{REFRESH_COOKIE}=") for header in completed.headers.get_list("set-cookie"))
