"""The security events of password resets and e-mail addresses, on real requests' JSON log lines and their jobs':
each names the user and the request (a reset's, logged by its job, the request that asked), and no line anywhere
holds a mailed token or its link."""

import httpx
import pytest

from tests import helpers
from tests.support import sessions
from tests.support.logs import captured_log
from tests.support.mailing import Mailing, jobs_settled, link_token

pytestmark = pytest.mark.settings(log_format="json", log_level="DEBUG")


async def verified(mailing: Mailing, email: str, subject: str, *, number: int = 1) -> str:
    token = link_token(await mailing.mail_to(email, subject=subject, number=number), "verify-email")
    response = await mailing.client.post("/api/v1/auth/verify-email", json={"token": token})
    assert response.status_code == 200, response.text
    return token


async def reset(client: httpx.AsyncClient, email: str) -> str:
    response = await client.post("/api/v1/auth/password-reset", json={"email": email})
    assert response.status_code == 202
    return response.headers["x-request-id"]


async def test_reset_and_address_events_name_user_and_request_and_never_a_token(mailing: Mailing) -> None:
    client = mailing.client
    old, new = helpers.unique_email(), helpers.unique_email("moved")
    with captured_log() as log:
        user = await helpers.register(client, email=old)
        tokens = [await verified(mailing, old, "Confirm your e-mail address")]
        headers = helpers.bearer((await sessions.login(client, old))["access_token"])
        wrong = {"email": new, "current_password": "not the password, sorry"}
        assert (await client.post("/api/v1/users/me/email", json=wrong, headers=headers)).status_code == 422
        right = {"email": new, "current_password": helpers.PASSWORD}
        assert (await client.post("/api/v1/users/me/email", json=right, headers=headers)).status_code == 202
        tokens.append(await verified(mailing, new, "Confirm your new e-mail address"))
        asked = await reset(client, new)
        await jobs_settled(mailing.database)
        unknown = await reset(client, "nobody-at-all@example.com")
        await jobs_settled(mailing.database)
        tokens.append(link_token(await mailing.mail_to(new, subject="Reset your password"), "reset-password"))
        confirm = {"token": tokens[-1], "new_password": "a fresh passphrase for the log"}
        confirmed = await client.post("/api/v1/auth/password-reset/confirm", json=confirm)
        assert confirmed.status_code == 204
        await jobs_settled(mailing.database)

    events = [e for e in log.records("app.security") if e["event"] not in {"login_succeeded"}]
    assert [e["event"] for e in events] == [
        "email_verified",
        "email_change_refused",
        "email_change_requested",
        "email_changed",
        "email_verified",
        "password_reset_requested",
        "password_reset_requested",
        "sessions_revoked",
        "password_reset",
    ]
    for_unknown = events[6]
    assert (for_unknown["user_id"], for_unknown["outcome"], for_unknown["request_id"]) == (
        None,
        "unknown_account",
        unknown,
    )
    assert all(e["user_id"] == user["id"] for e in events if e is not for_unknown)
    assert all(e["request_id"] for e in events)
    assert (events[5]["outcome"], events[5]["request_id"]) == ("mailed", asked)  # logged by the job, for the request
    assert (events[1]["level"], events[8]["level"]) == ("warning", "info")
    assert events[7]["reason"] == "password_reset"
    assert events[8]["sessions_revoked"] == 1
    leaks = [line for line in log.lines for token in tokens if token in line]
    assert not leaks
