"""Two-factor authentication in tests: its endpoints, a user with TOTP on, codes from an authenticator, and the time
the app checks codes at, chosen by the test (never by sleeping)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyotp
from fastapi import FastAPI

from app.features.mfa.dependencies import get_totp_time
from tests import helpers

__all__ = [
    "MFA",
    "MFA_LOGIN",
    "RECOVERY_CODES",
    "STATUS",
    "TOKEN",
    "TOTP",
    "TOTP_CONFIRM",
    "TOTP_DISABLE",
    "MfaUser",
    "TotpClock",
    "complete",
    "enabled_user",
    "enrol",
    "password_step",
]

TOKEN = "/api/v1/auth/token"
MFA_LOGIN = "/api/v1/auth/mfa"
MFA = STATUS = "/api/v1/users/me/mfa"
TOTP = "/api/v1/users/me/mfa/totp"
TOTP_CONFIRM = "/api/v1/users/me/mfa/totp/confirm"
TOTP_DISABLE = "/api/v1/users/me/mfa/totp/disable"
RECOVERY_CODES = "/api/v1/users/me/mfa/recovery-codes"
# 10 seconds into a 30-second step: a step either side is a whole step away, whatever the test adds.
START = datetime(2026, 12, 7, 12, 0, 10, tzinfo=UTC)


class TotpClock:
    """The time the app checks codes at (its `get_totp_time` dependency overridden), and an authenticator's codes
    for that time or for steps around it."""

    def __init__(self, app: FastAPI, start: datetime = START) -> None:
        self.now = start
        app.dependency_overrides[get_totp_time] = lambda: self.now

    def advance(self, *, seconds: float = 0, steps: int = 0) -> None:
        self.now += timedelta(seconds=seconds + 30 * steps)

    def code(self, secret: str, *, steps: int = 0) -> str:
        """The authenticator's code `steps` time steps from now (its clock ahead, or behind when negative)."""
        return pyotp.TOTP(secret).at(self.now, counter_offset=steps)


@dataclass(frozen=True, slots=True)
class MfaUser:
    id: int
    email: str
    secret: str
    recovery_codes: list[str]
    headers: helpers.Headers  # a bearer token of the session that enrolled


async def enrol(
    client: httpx.AsyncClient, headers: helpers.Headers, *, password: str = helpers.PASSWORD
) -> httpx.Response:
    return await client.post(TOTP, json={"password": password}, headers=headers)


async def enabled_user(client: httpx.AsyncClient, clock: TotpClock) -> MfaUser:
    """A new user with TOTP on (enrolled and confirmed at the clock's time); the clock is left one step later, so
    that the next code is not the confirming one."""
    user = await helpers.register(client)
    headers = helpers.bearer((await helpers.login(client, user["email"]))["access_token"])
    enrolment = await enrol(client, headers)
    assert enrolment.status_code == 201, enrolment.text
    secret: str = enrolment.json()["secret"]
    confirmed = await client.post(TOTP_CONFIRM, json={"code": clock.code(secret)}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    clock.advance(steps=1)
    return MfaUser(user["id"], user["email"], secret, confirmed.json()["recovery_codes"], headers)


async def password_step(client: httpx.AsyncClient, email: str, *, password: str = helpers.PASSWORD) -> dict[str, Any]:
    """The first step of a login with two-factor authentication on: the MFA challenge."""
    response = await client.post(TOKEN, data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["token_type"] == "mfa", body
    return body


async def complete(client: httpx.AsyncClient, mfa_token: str, code: str) -> httpx.Response:
    """The second step: the MFA token and a code."""
    return await client.post(MFA_LOGIN, json={"mfa_token": mfa_token, "code": code})
