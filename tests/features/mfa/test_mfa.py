"""TOTP two-factor authentication through the HTTP API: enrolling, confirming, logging in with a code or a recovery
code, each accepted once, the window for clock skew, disabling and new recovery codes. Time is the test's
(`TotpClock`): codes are made for the time the app checks them at, never waited for."""

import re
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app import TITLE
from app.features.mfa.models import RecoveryCode
from tests import helpers
from tests.support import mfa
from tests.support.auth import assert_problem, assert_unauthenticated, error_pointers
from tests.support.mfa import TotpClock, complete, enabled_user, enrol, password_step
from tests.support.sessions import access_works, session_row

RECOVERY_CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}")


@pytest.fixture
def clock(app: FastAPI, client: httpx.AsyncClient) -> TotpClock:  # the client first: it clears the overrides last
    del client
    return TotpClock(app)


async def signed_in(client: httpx.AsyncClient) -> tuple[dict[str, object], helpers.Headers]:
    user = await helpers.register(client)
    return user, helpers.bearer((await helpers.login(client, str(user["email"])))["access_token"])


async def status(client: httpx.AsyncClient, headers: helpers.Headers) -> dict[str, object]:
    response = await client.get(mfa.STATUS, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


# --- Enrolling ---------------------------------------------------------------------------------------------------


async def test_enrolling_returns_the_secret_its_uri_and_a_qr_code_and_turns_nothing_on(
    client: httpx.AsyncClient,
) -> None:
    user, headers = await signed_in(client)
    response = await enrol(client, headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"secret", "otpauth_uri", "qr_code_svg"}
    assert re.fullmatch(r"[A-Z2-7]{32}", body["secret"])  # base32, 160 bits
    uri = urlsplit(body["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == f"/{TITLE}:{user['email']}"
    assert parse_qs(uri.query)["issuer"] == [TITLE]
    assert pyotp.parse_uri(body["otpauth_uri"]).secret == body["secret"]
    assert body["qr_code_svg"].startswith("<svg")
    assert body["qr_code_svg"].rstrip().endswith("</svg>")
    assert await status(client, headers) == {"enabled": False, "pending": True, "recovery_codes_left": 0}
    tokens = await helpers.login(client, str(user["email"]))  # nothing is on yet
    assert tokens["token_type"] == "bearer"


async def test_enrolling_needs_the_password(client: httpx.AsyncClient) -> None:
    _, headers = await signed_in(client)
    wrong = await enrol(client, headers, password="not the password at all")
    assert error_pointers(assert_problem(wrong, 422, slug="validation-error")) == {"#/password"}
    assert await status(client, headers) == {"enabled": False, "pending": False, "recovery_codes_left": 0}
    assert_unauthenticated(await client.post(mfa.TOTP, json={"password": helpers.PASSWORD}))


async def test_a_wrong_code_confirms_nothing(client: httpx.AsyncClient, clock: TotpClock) -> None:
    user, headers = await signed_in(client)
    secret = (await enrol(client, headers)).json()["secret"]
    full_width = clock.code(secret).translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})  # one spelling only
    for code in ("000000", clock.code(secret, steps=-2), clock.code(pyotp.random_base32()), "not a code", full_width):
        refused = await client.post(mfa.TOTP_CONFIRM, json={"code": code}, headers=headers)
        assert error_pointers(assert_problem(refused, 422, slug="validation-error")) == {"#/code"}
    assert await status(client, headers) == {"enabled": False, "pending": True, "recovery_codes_left": 0}
    assert (await helpers.login(client, str(user["email"])))["token_type"] == "bearer"


async def test_confirming_turns_it_on_with_ten_single_use_recovery_codes_stored_hashed(
    client: httpx.AsyncClient, clock: TotpClock, db_session: AsyncSession
) -> None:
    user = await enabled_user(client, clock)
    assert len(user.recovery_codes) == len(set(user.recovery_codes)) == 10
    assert all(RECOVERY_CODE.fullmatch(code) for code in user.recovery_codes)
    assert await status(client, user.headers) == {"enabled": True, "pending": False, "recovery_codes_left": 10}
    stored = (await db_session.execute(select(RecoveryCode).where(RecoveryCode.user_id == user.id))).scalars().all()
    assert len(stored) == 10
    assert all(len(row.code_hash) == 32 for row in stored)
    dump = b"".join(row.code_hash for row in stored)
    assert not any(code.replace("-", "").encode() in dump for code in user.recovery_codes)
    # The secret is encrypted at rest (the column type decrypts it; the raw value is a Fernet token).
    raw = await db_session.execute(text("SELECT secret FROM totp_credential WHERE user_id = :u"), {"u": user.id})
    stored_secret = raw.scalar_one()
    assert user.secret not in stored_secret
    assert stored_secret.startswith("gAAAAA")


async def test_enrolling_again_is_refused_once_it_is_on_and_confirming_needs_an_enrolment(
    client: httpx.AsyncClient, clock: TotpClock
) -> None:
    user = await enabled_user(client, clock)
    assert_problem(await enrol(client, user.headers), 409, slug="mfa-already-enabled")
    again = await client.post(mfa.TOTP_CONFIRM, json={"code": clock.code(user.secret)}, headers=user.headers)
    assert_problem(again, 409, slug="mfa-already-enabled")
    _, newcomer = await signed_in(client)
    assert_problem(
        await client.post(mfa.TOTP_CONFIRM, json={"code": "123456"}, headers=newcomer), 409, slug="mfa-not-pending"
    )


async def test_a_new_enrolment_replaces_a_pending_one(client: httpx.AsyncClient, clock: TotpClock) -> None:
    _, headers = await signed_in(client)
    first = (await enrol(client, headers)).json()["secret"]
    second = (await enrol(client, headers)).json()["secret"]
    assert first != second
    stale = await client.post(mfa.TOTP_CONFIRM, json={"code": clock.code(first)}, headers=headers)
    assert_problem(stale, 422, slug="validation-error")
    fresh = await client.post(mfa.TOTP_CONFIRM, json={"code": clock.code(second)}, headers=headers)
    assert fresh.status_code == 200, fresh.text


# --- Logging in --------------------------------------------------------------------------------------------------


async def test_the_password_earns_an_mfa_token_and_a_code_the_session(
    client: httpx.AsyncClient, clock: TotpClock, db_session: AsyncSession
) -> None:
    user = await enabled_user(client, clock)
    challenge = await password_step(client, user.email)
    assert set(challenge) == {"token_type", "mfa_token", "expires_in"}
    assert challenge["expires_in"] == 300
    response = await complete(client, challenge["mfa_token"], clock.code(user.secret))
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "bearer"
    assert await access_works(client, tokens["access_token"])
    row = await session_row(db_session, tokens["access_token"])
    assert (row.user_id, row.revoked_at) == (user.id, None)
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text


async def test_a_code_is_accepted_once(client: httpx.AsyncClient, clock: TotpClock) -> None:
    user = await enabled_user(client, clock)
    code = clock.code(user.secret)
    assert (await complete(client, (await password_step(client, user.email))["mfa_token"], code)).status_code == 200
    replayed = await complete(client, (await password_step(client, user.email))["mfa_token"], code)
    assert assert_unauthenticated(replayed)["detail"].startswith("The code is not valid")
    # Nor is a code of an earlier step, though still within the window: the next login needs the next code.
    earlier = await complete(
        client, (await password_step(client, user.email))["mfa_token"], clock.code(user.secret, steps=-1)
    )
    assert_unauthenticated(earlier)
    clock.advance(steps=1)
    later = await complete(client, (await password_step(client, user.email))["mfa_token"], clock.code(user.secret))
    assert later.status_code == 200, later.text


async def test_the_confirming_code_cannot_log_in(client: httpx.AsyncClient, clock: TotpClock) -> None:
    user = await enabled_user(client, clock)
    clock.advance(steps=-1)  # back to the step of the confirmation, whose code is spent
    challenge = await password_step(client, user.email)
    assert_unauthenticated(await complete(client, challenge["mfa_token"], clock.code(user.secret)))


@pytest.mark.parametrize(("steps", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)])
async def test_a_code_one_step_either_side_of_the_servers_clock_is_accepted(
    client: httpx.AsyncClient, clock: TotpClock, steps: int, accepted: bool
) -> None:
    user = await enabled_user(client, clock)
    clock.advance(steps=1)  # the step before is then one no code was used in (the confirmation's is two back)
    challenge = await password_step(client, user.email)
    response = await complete(client, challenge["mfa_token"], clock.code(user.secret, steps=steps))
    assert response.status_code == (200 if accepted else 401), response.text


async def test_a_recovery_code_works_once(client: httpx.AsyncClient, clock: TotpClock) -> None:
    user = await enabled_user(client, clock)
    code = user.recovery_codes[3]
    typed = code.lower().replace("-", " ")  # case and separators do not matter
    first = await complete(client, (await password_step(client, user.email))["mfa_token"], typed)
    assert first.status_code == 200, first.text
    assert await status(client, user.headers) == {"enabled": True, "pending": False, "recovery_codes_left": 9}
    again = await complete(client, (await password_step(client, user.email))["mfa_token"], code)
    assert_unauthenticated(again)
    other = await complete(client, (await password_step(client, user.email))["mfa_token"], user.recovery_codes[4])
    assert other.status_code == 200, other.text


async def test_another_users_recovery_code_or_code_does_not_work(client: httpx.AsyncClient, clock: TotpClock) -> None:
    victim = await enabled_user(client, clock)
    attacker = await enabled_user(client, clock)
    challenge = await password_step(client, victim.email)
    assert_unauthenticated(await complete(client, challenge["mfa_token"], attacker.recovery_codes[0]))
    assert_unauthenticated(await complete(client, challenge["mfa_token"], clock.code(attacker.secret)))


async def test_a_deactivated_user_or_one_that_turned_it_off_cannot_complete(
    client: httpx.AsyncClient, clock: TotpClock, admin: helpers.Headers
) -> None:
    deactivated = await enabled_user(client, clock)
    challenge = await password_step(client, deactivated.email)
    assert (
        await client.patch(f"/api/v1/users/{deactivated.id}", json={"is_active": False}, headers=admin)
    ).status_code == 200
    assert_unauthenticated(await complete(client, challenge["mfa_token"], clock.code(deactivated.secret)))

    switched_off = await enabled_user(client, clock)
    challenge = await password_step(client, switched_off.email)
    body = {"password": helpers.PASSWORD, "code": switched_off.recovery_codes[0]}
    assert (await client.post(mfa.TOTP_DISABLE, json=body, headers=switched_off.headers)).status_code == 204
    assert_unauthenticated(await complete(client, challenge["mfa_token"], clock.code(switched_off.secret)))


# --- Disabling and new recovery codes ----------------------------------------------------------------------------


async def test_disabling_needs_the_password_and_a_code(client: httpx.AsyncClient, clock: TotpClock) -> None:
    user = await enabled_user(client, clock)
    attempts = [
        ({"password": "not the password at all", "code": clock.code(user.secret)}, "#/password"),
        ({"password": helpers.PASSWORD, "code": "000000"}, "#/code"),
        ({"password": helpers.PASSWORD, "code": "AAAA-BBBB-CCCC-DDDD"}, "#/code"),
    ]
    for body, pointer in attempts:
        refused = await client.post(mfa.TOTP_DISABLE, json=body, headers=user.headers)
        assert error_pointers(assert_problem(refused, 422, slug="validation-error")) == {pointer}
    assert (await status(client, user.headers))["enabled"] is True
    assert (
        await client.post(mfa.TOTP_DISABLE, json={"code": clock.code(user.secret)}, headers=user.headers)
    ).status_code == 422

    done = await client.post(
        mfa.TOTP_DISABLE, json={"password": helpers.PASSWORD, "code": clock.code(user.secret)}, headers=user.headers
    )
    assert done.status_code == 204, done.text
    assert await status(client, user.headers) == {"enabled": False, "pending": False, "recovery_codes_left": 0}
    assert (await helpers.login(client, user.email))["token_type"] == "bearer"
    again = await client.post(
        mfa.TOTP_DISABLE, json={"password": helpers.PASSWORD, "code": user.recovery_codes[0]}, headers=user.headers
    )
    assert_problem(again, 409, slug="mfa-not-enabled")


async def test_new_recovery_codes_need_a_code_and_void_the_old_ones(
    client: httpx.AsyncClient, clock: TotpClock
) -> None:
    user = await enabled_user(client, clock)
    refused = await client.post(mfa.RECOVERY_CODES, json={"code": "123456"}, headers=user.headers)
    assert error_pointers(assert_problem(refused, 422, slug="validation-error")) == {"#/code"}
    response = await client.post(mfa.RECOVERY_CODES, json={"code": clock.code(user.secret)}, headers=user.headers)
    assert response.status_code == 200, response.text
    fresh = response.json()["recovery_codes"]
    assert len(fresh) == 10
    assert not set(fresh) & set(user.recovery_codes)
    old = await complete(client, (await password_step(client, user.email))["mfa_token"], user.recovery_codes[0])
    assert_unauthenticated(old)
    new = await complete(client, (await password_step(client, user.email))["mfa_token"], fresh[0])
    assert new.status_code == 200, new.text


async def test_without_two_factor_the_endpoints_say_so(client: httpx.AsyncClient) -> None:
    _, headers = await signed_in(client)
    assert_problem(
        await client.post(mfa.RECOVERY_CODES, json={"code": "123456"}, headers=headers), 409, slug="mfa-not-enabled"
    )


# --- Other credentials -------------------------------------------------------------------------------------------


async def test_api_keys_and_administrators_are_unaffected(
    client: httpx.AsyncClient, clock: TotpClock, admin: helpers.Headers, counters_path: str
) -> None:
    """Turning two-factor authentication on ends no session and no key: an API key is no login."""
    user = await helpers.register(client)
    headers = helpers.bearer((await helpers.login(client, user["email"]))["access_token"])
    issued = await client.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["api:read"]}, headers=headers)
    assert issued.status_code == 201, issued.text
    secret = (await enrol(client, headers)).json()["secret"]
    assert (await client.post(mfa.TOTP_CONFIRM, json={"code": clock.code(secret)}, headers=headers)).status_code == 200

    by_key = await client.get(f"{counters_path}/caller", headers={"X-API-Key": issued.json()["key"]})
    assert by_key.status_code == 200, by_key.text
    assert by_key.json() == {"user_id": user["id"], "api_key_id": issued.json()["id"]}
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
    # An administrator without two-factor authentication logs in and administers as before.
    assert (await client.get("/api/v1/users", headers=admin)).status_code == 200


async def test_the_login_answer_is_a_discriminated_union_in_the_document(app: FastAPI) -> None:
    schema = app.openapi()["paths"]["/api/v1/auth/token"]["post"]["responses"]["200"]["content"]["application/json"]
    union = schema["schema"]
    assert union["discriminator"] == {
        "propertyName": "token_type",
        "mapping": {"bearer": "#/components/schemas/TokenPair", "mfa": "#/components/schemas/MfaChallenge"},
    }
    components = app.openapi()["components"]["schemas"]
    assert "token_type" in components["TokenPair"]["required"]
    assert "token_type" in components["MfaChallenge"]["required"]
