"""OWASP API Security Top 10 (2023): at least one real attack per risk that applies to ForgeAPI.

docs/security.md maps each risk to the code that answers it and to the tests here. API7 (SSRF) and API10 (unsafe
consumption of APIs) concern the aggregation endpoint alone; its tests (tests/features/aggregate/) need upstream
servers and live there.
"""

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import jwt
import pytest
from fastapi import FastAPI
from pwdlib import PasswordHash
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.context import AppContext
from app.features.users.models import TokenPurpose
from app.main import create_app
from tests import helpers
from tests.support import databases, mfa, sessions
from tests.support.app import running
from tests.support.mailing import Mailing, age_tokens, link_token
from tests.support.settings import BASE_URL, PRODUCTION_SECRETS, make_settings

type Access = Literal["public", "user", "admin"]

# API9 (improper inventory management): every operation the service exposes, and who may call it.
INVENTORY: dict[tuple[str, str], Access] = {
    ("GET", "/healthz"): "public",
    ("GET", "/readyz"): "public",
    ("POST", "/api/v1/auth/register"): "public",
    ("POST", "/api/v1/auth/token"): "public",
    ("POST", "/api/v1/auth/refresh"): "public",
    ("POST", "/api/v1/auth/logout"): "user",  # the session's access token, or its refresh token cookie
    ("POST", "/api/v1/auth/mfa"): "public",  # a login's second step: the MFA token a right password earned, a code
    ("POST", "/api/v1/auth/password-reset"): "public",  # the same 202 whether or not an account has the address
    ("POST", "/api/v1/auth/password-reset/confirm"): "public",  # the mailed token is the credential
    ("POST", "/api/v1/auth/verify-email"): "public",  # the mailed token is the credential
    ("POST", "/api/v1/auth/verify-email/resend"): "user",
    # Provider sign-in (docs/oidc.md): the browser's navigations, bound to it by the flow's signed cookie and
    # single-use state; the exchange takes the one-time code of a finished sign-in.
    ("GET", "/api/v1/auth/providers"): "public",
    ("GET", "/api/v1/auth/oidc/{provider}/login"): "public",
    ("GET", "/api/v1/auth/oidc/{provider}/callback"): "public",
    ("POST", "/api/v1/auth/oidc/exchange"): "public",
    ("GET", "/api/v1/auth/oidc/{provider}/link"): "user",
    ("GET", "/api/v1/users/me/identities"): "user",
    ("DELETE", "/api/v1/users/me/identities/{identity_id}"): "user",
    ("GET", "/api/v1/users/me"): "user",
    ("PATCH", "/api/v1/users/me"): "user",
    ("POST", "/api/v1/users/me/password"): "user",
    ("POST", "/api/v1/users/me/email"): "user",
    ("GET", "/api/v1/users/me/sessions"): "user",
    ("POST", "/api/v1/users/me/sessions/revoke-all"): "user",
    ("DELETE", "/api/v1/users/me/sessions/{session_id}"): "user",
    ("GET", "/api/v1/users/me/mfa"): "user",
    ("POST", "/api/v1/users/me/mfa/totp"): "user",  # and the password
    ("POST", "/api/v1/users/me/mfa/totp/confirm"): "user",
    ("POST", "/api/v1/users/me/mfa/totp/disable"): "user",  # and the password and a code
    ("POST", "/api/v1/users/me/mfa/recovery-codes"): "user",  # and a code
    ("GET", "/api/v1/users"): "admin",
    ("PATCH", "/api/v1/users/{user_id}"): "admin",
    ("POST", "/api/v1/users/{user_id}/sessions/revoke-all"): "admin",
    ("GET", "/api/v1/api-keys"): "user",
    ("POST", "/api/v1/api-keys"): "user",
    ("DELETE", "/api/v1/api-keys/{key_id}"): "user",
    ("GET", "/api/v1/products"): "public",
    ("POST", "/api/v1/products"): "admin",
    ("GET", "/api/v1/products/{product_id}"): "public",
    ("PATCH", "/api/v1/products/{product_id}"): "admin",
    ("DELETE", "/api/v1/products/{product_id}"): "admin",
    ("POST", "/api/v1/orders"): "user",
    ("GET", "/api/v1/orders"): "user",
    ("GET", "/api/v1/orders/{order_id}"): "user",
    ("POST", "/api/v1/orders/{order_id}/cancel"): "user",
    ("GET", "/api/v1/admin/orders"): "admin",
    ("PATCH", "/api/v1/admin/orders/{order_id}"): "admin",
    ("GET", "/api/v1/aggregate"): "user",
    ("GET", "/api/v1/config"): "public",  # settings that are public by nature, never a secret; edge-cached
    # Dynamic endpoints: the admin API only. The endpoints it registers publish their own `auth`
    # (tests/features/dynamic_endpoints).
    ("POST", "/api/v1/admin/endpoints"): "admin",
    ("GET", "/api/v1/admin/endpoints"): "admin",
    ("GET", "/api/v1/admin/endpoints/{spec_id}"): "admin",
    ("PUT", "/api/v1/admin/endpoints/{spec_id}"): "admin",
    ("DELETE", "/api/v1/admin/endpoints/{spec_id}"): "admin",
    ("GET", "/api/v1/admin/jobs"): "admin",
    ("POST", "/api/v1/admin/jobs/{job_id}/retry"): "admin",
    ("POST", "/api/v1/admin/jobs/{job_id}/cancel"): "admin",
    ("POST", "/api/v1/admin/webhooks"): "admin",
    ("GET", "/api/v1/admin/webhooks"): "admin",
    ("GET", "/api/v1/admin/webhooks/{webhook_id}"): "admin",
    ("PATCH", "/api/v1/admin/webhooks/{webhook_id}"): "admin",
    ("DELETE", "/api/v1/admin/webhooks/{webhook_id}"): "admin",
    ("POST", "/api/v1/admin/webhooks/{webhook_id}/rotate-secret"): "admin",
    ("GET", "/api/v1/admin/webhooks/{webhook_id}/deliveries"): "admin",
    ("POST", "/api/v1/admin/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): "admin",
    ("POST", "/api/v1/admin/webhooks/{webhook_id}/test"): "admin",
    ("GET", "/api/v1/admin/events"): "admin",
    ("GET", "/api/v1/admin/audit"): "admin",
    ("GET", "/api/v1/admin/dashboard"): "admin",
    # forge feature new: operations go above this line
}
BODIES: dict[str, dict[str, Any]] = {"POST": {}, "PATCH": {"name": "x"}, "PUT": {}, "DELETE": {}, "GET": {}}


def _concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", "1", path)


async def _call(client: httpx.AsyncClient, method: str, path: str, headers: helpers.Headers) -> httpx.Response:
    body = BODIES[method] if method in {"POST", "PATCH", "PUT"} else None
    return await client.request(method, _concrete(path), json=body, headers=headers)


async def test_api9_the_published_inventory_is_exactly_the_reviewed_one(app: FastAPI) -> None:
    published = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    assert published == set(INVENTORY), "a route was added or removed: review its access and update INVENTORY"


@pytest.mark.parametrize(("operation", "access"), [(k, v) for k, v in INVENTORY.items() if v != "public"])
async def test_api2_every_protected_operation_refuses_anonymous_callers(
    client: httpx.AsyncClient, operation: tuple[str, str], access: Access
) -> None:
    response = await _call(client, *operation, headers={})
    assert response.status_code == 401, f"{operation} ({access})"


@pytest.mark.parametrize("operation", [k for k, v in INVENTORY.items() if v == "admin"])
async def test_api5_every_admin_operation_refuses_an_ordinary_user(
    client: httpx.AsyncClient, user: helpers.Headers, operation: tuple[str, str]
) -> None:
    response = await _call(client, *operation, headers=user)
    assert response.status_code == 403, operation


async def test_api1_another_users_api_keys_are_404(client: httpx.AsyncClient) -> None:
    """Here on the API keys; each feature's tests do the same on the feature's own objects."""
    owner = await helpers.user_headers(client)
    intruder = await helpers.user_headers(client)
    key = await client.post("/api/v1/api-keys", json={"name": "k", "scopes": ["api:read"]}, headers=owner)
    assert (await client.delete(f"/api/v1/api-keys/{key.json()['id']}", headers=intruder)).status_code == 404
    assert (await client.get("/api/v1/api-keys", headers=intruder)).json() == []
    # The owner's objects are untouched by the attempts.
    assert (await client.get("/api/v1/api-keys", headers=owner)).json()[0]["revoked_at"] is None


def _unsigned(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


async def test_api2_forged_expired_and_algorithm_none_tokens_are_refused(
    context: AppContext, client: httpx.AsyncClient
) -> None:
    settings = context.settings
    user = await helpers.register(client)
    session_id = helpers.session_id_of((await helpers.login(client, user["email"]))["access_token"])
    now = datetime.now(UTC)
    claims = {
        "sid": session_id,
        "sub": str(user["id"]),
        "typ": "access",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
    }
    key = settings.secret_key.get_secret_value()
    forged = jwt.encode(claims, "an attacker's key that is long enough!", algorithm="HS256")
    expired = jwt.encode({**claims, "exp": int((now - timedelta(minutes=5)).timestamp())}, key, algorithm="HS256")
    for token in (forged, expired, _unsigned(claims)):
        assert (await client.get("/api/v1/users/me", headers=helpers.bearer(token))).status_code == 401
    assert (await client.get("/api/v1/users/me", headers=helpers.bearer(jwt.encode(claims, key)))).status_code == 200


async def test_api3_clients_cannot_assign_privileged_properties_nor_read_secret_ones(
    client: httpx.AsyncClient, user: helpers.Headers
) -> None:
    for body in ({"role": "admin"}, {"is_active": True}, {"hashed_password": "x"}):
        assert (await client.patch("/api/v1/users/me", json=body, headers=user)).status_code == 422
    register = await client.post(
        "/api/v1/auth/register", json={"email": helpers.unique_email(), "password": helpers.PASSWORD, "role": "admin"}
    )
    assert register.status_code == 422
    me = await client.get("/api/v1/users/me", headers=user)
    assert me.json()["role"] == "user"
    assert "hashed_password" not in me.text
    assert "$argon2" not in me.text


async def test_api4_resource_consumption_is_bounded(
    context: AppContext, client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    huge = b"x" * (context.settings.max_body_bytes + 1)
    too_big = await client.post("/api/v1/auth/register", content=huge, headers={"content-type": "application/json"})
    assert too_big.status_code == 413
    # Pages are bounded in size and depth on every listing (core/pagination.py); here on the users'.
    assert (await client.get("/api/v1/users", params={"size": 10**6}, headers=admin)).status_code == 422
    assert (await client.get("/api/v1/users", params={"page": 10**9}, headers=admin)).status_code == 422


@pytest.mark.settings(rate_limit_login_account="5/minute", trusted_proxies="127.0.0.1")
async def test_api6_credential_stuffing_from_rotating_addresses_is_throttled_per_account(
    client: httpx.AsyncClient,
) -> None:
    victim = await helpers.register(client)
    statuses = []
    for i in range(20):
        response = await client.post(
            "/api/v1/auth/token",
            data={"username": victim["email"], "password": f"guess {i}"},
            headers={"x-forwarded-for": f"198.51.100.{i}"},
        )
        statuses.append(response.status_code)
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}


async def test_api8_production_hardening(app: FastAPI, context: AppContext, client: httpx.AsyncClient) -> None:

    production = create_app(make_settings(context.settings.database_url, **PRODUCTION_SECRETS, docs_enabled=False))
    async with (
        running(production) as started,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as http,
    ):
        assert (await http.get("/docs")).status_code == 404
        assert (await http.get("/openapi.json")).status_code == 404
        health = await http.get("/healthz")
    assert "strict-transport-security" in health.headers
    assert health.headers["x-content-type-options"] == "nosniff"
    crash = await client.get("/api/v1/users/me", headers={"authorization": "Bearer " + "a" * 5000})
    assert crash.status_code == 401
    assert "Traceback" not in crash.text


async def test_api2_login_does_the_same_work_whether_or_not_the_account_exists(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No timing oracle for account discovery: an unknown e-mail is verified against a decoy hash (Argon2 runs)."""
    hashed: list[str] = []
    original = PasswordHash.verify_and_update

    def counting(self: PasswordHash, password: str, hash_: str) -> tuple[bool, str | None]:
        hashed.append(hash_)
        return original(self, password, hash_)

    monkeypatch.setattr(PasswordHash, "verify_and_update", counting)
    known = await helpers.register(client)
    wrong = await client.post("/api/v1/auth/token", data={"username": known["email"], "password": "wrong password!"})
    unknown = await client.post("/api/v1/auth/token", data={"username": "nobody@example.com", "password": "whatever!"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert len(hashed) == 2
    assert all(h.startswith("$argon2id$") for h in hashed)


async def test_api2_a_stolen_refresh_token_is_detected_when_either_holder_uses_it_again(
    client: httpx.AsyncClient, db_session: AsyncSession, context: AppContext
) -> None:
    """The thief refreshes first; the victim's next refresh presents the spent token: the whole session is revoked,
    the thief's fresh tokens included."""
    user = await helpers.register(client)
    victim = await helpers.login(client, user["email"])
    thief = (await sessions.refresh(client, victim["refresh_token"])).json()
    grace = timedelta(seconds=context.settings.session_refresh_grace_seconds + 1)
    await sessions.move_spent_back(db_session, victim["access_token"], grace)

    assert (await sessions.refresh(client, victim["refresh_token"])).status_code == 401
    assert (await sessions.refresh(client, thief["refresh_token"])).status_code == 401
    assert not await sessions.access_works(client, thief["access_token"])


async def test_api2_a_password_change_signs_out_every_other_session(client: httpx.AsyncClient) -> None:
    """An attacker's session (a stolen password, a stolen token) ends when the owner changes the password."""
    user = await helpers.register(client)
    attacker = await helpers.login(client, user["email"])
    owner = await helpers.login(client, user["email"])
    change = {"current_password": helpers.PASSWORD, "new_password": "a new passphrase of mine"}
    changed = await client.post("/api/v1/users/me/password", json=change, headers=helpers.bearer(owner["access_token"]))
    assert changed.status_code == 204
    assert not await sessions.access_works(client, attacker["access_token"])
    assert (await sessions.refresh(client, attacker["refresh_token"])).status_code == 401
    assert await sessions.access_works(client, owner["access_token"])


async def test_api2_a_second_factor_code_works_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    """An attacker with the password, who saw the victim's code and recovery code go by (over a shoulder, through a
    phishing proxy that came too late), gets an MFA token that is no access token, and nothing for the codes."""
    clock = mfa.TotpClock(app)
    victim = await mfa.enabled_user(client, clock)
    stolen = await mfa.password_step(client, victim.email)
    assert not await sessions.access_works(client, stolen["mfa_token"])

    code = clock.code(victim.secret)
    assert (
        await mfa.complete(client, (await mfa.password_step(client, victim.email))["mfa_token"], code)
    ).status_code == 200
    assert (await mfa.complete(client, stolen["mfa_token"], code)).status_code == 401  # replayed within its window

    recovery_code = victim.recovery_codes[0]
    used = await mfa.complete(client, (await mfa.password_step(client, victim.email))["mfa_token"], recovery_code)
    assert used.status_code == 200
    assert (await mfa.complete(client, stolen["mfa_token"], recovery_code)).status_code == 401  # single use


async def _reset_link_token(mailing: Mailing, email: str, *, number: int = 1) -> str:
    assert (await mailing.client.post("/api/v1/auth/password-reset", json={"email": email})).status_code == 202
    return link_token(await mailing.mail_to(email, subject="Reset your password", number=number), "reset-password")


async def test_api2_a_password_reset_does_the_same_work_whether_or_not_the_account_exists(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """No account discovery through the reset form: the same statements, status and body for an address with an
    account and one without (the job they queue looks the address up later, where the requester cannot see or time
    it: tests/features/users/test_password_reset.py follows it to the mail)."""
    known = (await helpers.register(client))["email"]
    answers, work = [], []
    for email in (known, "no-account-here@example.com"):
        with databases.statements_sent(engine) as sent:
            answers.append(await client.post("/api/v1/auth/password-reset", json={"email": email}))
        work.append(sent)
    assert [(a.status_code, a.json()) for a in answers] == [(202, answers[0].json())] * 2
    assert work[0] == work[1]
    assert "INSERT" in work[0]  # the job


async def test_api2_a_reset_link_works_once_and_for_30_minutes_only(mailing: Mailing) -> None:
    email = (await helpers.register(mailing.client))["email"]
    token = await _reset_link_token(mailing, email)
    confirm = {"token": token, "new_password": "the owner's new passphrase"}
    assert (await mailing.client.post("/api/v1/auth/password-reset/confirm", json=confirm)).status_code == 204
    replay = {"token": token, "new_password": "an attacker's passphrase"}
    assert (await mailing.client.post("/api/v1/auth/password-reset/confirm", json=replay)).status_code == 400

    late = await _reset_link_token(mailing, email, number=2)
    await age_tokens(mailing.database, email, TokenPurpose.PASSWORD_RESET, timedelta(minutes=30, seconds=1))
    expired = {"token": late, "new_password": "an attacker's passphrase"}
    assert (await mailing.client.post("/api/v1/auth/password-reset/confirm", json=expired)).status_code == 400
    assert (await sessions.login(mailing.client, email, password="the owner's new passphrase"))["access_token"]


async def test_api2_a_password_reset_signs_out_every_session(mailing: Mailing) -> None:
    """An attacker's session (a stolen password, a stolen token) ends when the owner resets the password."""
    email = (await helpers.register(mailing.client))["email"]
    attacker = await sessions.login(mailing.client, email)
    token = await _reset_link_token(mailing, email)
    confirm = {"token": token, "new_password": "the owner's new passphrase"}
    assert (await mailing.client.post("/api/v1/auth/password-reset/confirm", json=confirm)).status_code == 204
    assert not await sessions.access_works(mailing.client, attacker["access_token"])
    assert (await sessions.refresh(mailing.client, attacker["refresh_token"])).status_code == 401
