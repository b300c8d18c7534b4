"""Two-factor authentication's security events, on real requests' JSON logs at DEBUG: each names the user and the
request, and no line holds a secret, a URI, an MFA token, a code or a recovery code."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import helpers
from tests.support import mfa
from tests.support.logs import captured_log
from tests.support.mfa import TotpClock, complete, enrol, password_step

pytestmark = pytest.mark.settings(log_format="json", log_level="DEBUG")


def _values(record: Any, key: str = "") -> Iterator[str]:
    """Every text value of a log record, but its time and request id (digits that a 6-digit code may match)."""
    if isinstance(record, dict):
        for name, value in record.items():
            if name not in {"timestamp", "request_id"}:
                yield from _values(value, name)
    elif isinstance(record, list):
        for value in record:
            yield from _values(value, key)
    else:
        yield str(record)


async def test_events_name_the_user_and_request_and_no_line_holds_a_secret_or_a_code(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    clock = TotpClock(app)
    with captured_log() as log:
        user = await helpers.register(client)
        headers = helpers.bearer((await helpers.login(client, user["email"]))["access_token"])
        enrolment = (await enrol(client, headers)).json()
        secret = enrolment["secret"]
        wrong = await client.post(mfa.TOTP_CONFIRM, json={"code": clock.code(secret, steps=5)}, headers=headers)
        assert wrong.status_code == 422
        confirming = clock.code(secret)
        recovery = (await client.post(mfa.TOTP_CONFIRM, json={"code": confirming}, headers=headers)).json()
        codes = recovery["recovery_codes"]
        clock.advance(steps=1)
        first = await password_step(client, user["email"])
        guess = clock.code(secret, steps=-3)
        assert (await complete(client, first["mfa_token"], guess)).status_code == 401
        login_code = clock.code(secret)
        assert (await complete(client, first["mfa_token"], login_code)).status_code == 200
        second = await password_step(client, user["email"])
        assert (await complete(client, second["mfa_token"], codes[0])).status_code == 200
        assert (await complete(client, second["mfa_token"], codes[0])).status_code == 401  # spent
        clock.advance(steps=1)
        renewal_code = clock.code(secret)
        renewed = await client.post(mfa.RECOVERY_CODES, json={"code": renewal_code}, headers=headers)
        new_codes = renewed.json()["recovery_codes"]
        body = {"password": helpers.PASSWORD, "code": new_codes[0]}
        assert (await client.post(mfa.TOTP_DISABLE, json=body, headers=headers)).status_code == 204

    events = [e for e in log.records("app.security") if e["event"].startswith("mfa_")]
    assert [(e["event"], e.get("purpose"), e.get("reason")) for e in events] == [
        ("mfa_failed", "confirm", "wrong_code"),
        ("mfa_enabled", None, None),
        ("mfa_challenged", None, None),
        ("mfa_failed", "login", "wrong_code"),
        ("mfa_challenged", None, None),
        ("mfa_recovery_code_used", "login", None),
        ("mfa_failed", "login", "spent_recovery_code"),
        ("mfa_recovery_codes_regenerated", None, None),
        ("mfa_recovery_code_used", "disable", None),
        ("mfa_disabled", None, None),
    ]
    assert all(e["user_id"] == user["id"] and e["request_id"] for e in events)
    assert [e["level"] for e in events if e["event"] in {"mfa_failed", "mfa_recovery_code_used"}] == ["warning"] * 5
    assert events[5]["recovery_codes_left"] == 9
    logins = [e for e in log.records("app.security") if e["event"] == "login_succeeded"]
    assert len(logins) == 3  # the password-only login, and the two completed with a second factor

    lines = log.lines
    long_secrets = {
        "secret": secret,
        "otpauth uri": enrolment["otpauth_uri"],
        "first mfa token": first["mfa_token"],
        "second mfa token": second["mfa_token"],
        **{f"recovery code {i}": code for i, code in enumerate(codes + new_codes)},
        **{f"recovery code body {i}": code.replace("-", "") for i, code in enumerate(codes + new_codes)},
    }
    assert not {name: line for name, secret_ in long_secrets.items() for line in lines if secret_ in line}
    values = [value for record in log.records() for value in _values(record)]
    short_codes = {"confirming": confirming, "guess": guess, "login": login_code, "renewal": renewal_code}
    assert not {name: value for name, code in short_codes.items() for value in values if code in value}
