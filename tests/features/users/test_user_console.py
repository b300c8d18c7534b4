"""Users in the admin console, through the users service: found by e-mail address, their encrypted phone on their
own page but never in the list (and never stored in the clear), deactivated with their sessions revoked, and an
administrator refused the demotion of themselves, in the API's words; each action in the audit trail as the signed-in
administrator's, as the API records it (SQLite and PostgreSQL)."""

from datetime import datetime

import httpx
from sqlalchemy import text

from app.core.context import AppContext
from app.features.users import service as users_service
from tests import helpers
from tests.support.console import account, audit_entries, post_form, row_action, sign_in

PHONE = "+442079460958"


async def _id(context: AppContext, email: str) -> int:
    async with context.database.session(writes=False) as session:
        return (await users_service.get_user_by_email(session, email=email)).id


async def test_an_encrypted_phone_is_never_listed_nor_stored_in_the_clear(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    customer = await helpers.register(console_client)
    headers = helpers.bearer((await helpers.login(console_client, customer["email"]))["access_token"])
    assert (await console_client.patch("/api/v1/users/me", json={"phone": PHONE}, headers=headers)).is_success
    assert (await sign_in(console_client, await account(context))).status_code == 303

    listed = await console_client.get("/admin/users/list", params={"q": customer["email"]})
    shown = await console_client.get("/admin/users/detail", params={"pk": customer["id"]})

    assert customer["email"] in listed.text
    assert PHONE not in listed.text
    assert PHONE in shown.text  # to an administrator, on the account's own page
    async with context.database.session(writes=False) as session:
        stored = (await session.execute(text("SELECT phone FROM user_account WHERE phone IS NOT NULL"))).scalar_one()
    assert PHONE not in str(stored)


async def test_deactivating_in_the_console_revokes_the_sessions_and_self_demotion_is_refused(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    admin = await account(context)
    assert (await sign_in(console_client, admin)).status_code == 303
    customer = await helpers.register(console_client)
    token = (await helpers.login(console_client, customer["email"]))["access_token"]

    deactivated = await row_action(console_client, "users", "deactivate", customer["id"])
    refused = await row_action(console_client, "users", "make_user", await _id(context, admin))

    assert deactivated.status_code == 200, deactivated.text
    me = await console_client.get("/api/v1/users/me", headers=helpers.bearer(token))
    assert me.status_code == 401  # its session was revoked with the deactivation
    [entry] = await audit_entries(context, deactivated)
    assert (entry.action, entry.target_type, entry.target_id) == ("user.update", "user", str(customer["id"]))
    assert (entry.actor_user_id, entry.actor_api_key_id) == (await _id(context, admin), None)
    assert (entry.before, entry.after) == ({"is_active": True}, {"is_active": False})
    assert refused.status_code == 400
    assert refused.json()["msg"] == "Admins cannot demote or deactivate their own account."
    assert await audit_entries(context, refused) == []


async def test_signing_out_everywhere_from_the_console_is_recorded_once(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    admin = await account(context)
    assert (await sign_in(console_client, admin)).status_code == 303
    customer = await helpers.register(console_client)
    await helpers.login(console_client, customer["email"])

    revoked = await row_action(console_client, "users", "revoke_sessions", customer["id"])

    assert revoked.status_code == 200, revoked.text
    [entry] = await audit_entries(context, revoked)
    assert (entry.action, entry.target_id, entry.after) == ("user.revoke_sessions", str(customer["id"]), {"revoked": 1})
    assert entry.actor_user_id == await _id(context, admin)


async def test_an_api_keys_secret_is_never_shown_and_a_key_is_revoked(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    customer = await helpers.register(console_client)
    headers = helpers.bearer((await helpers.login(console_client, customer["email"]))["access_token"])
    issued = await console_client.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["api:read"]}, headers=headers)
    assert issued.status_code == 201, issued.text
    secret = issued.json()["key"]
    assert (await sign_in(console_client, await account(context))).status_code == 303

    listed = await console_client.get("/admin/api-keys/list", params={"q": str(customer["id"])})
    revoked = await row_action(console_client, "api-keys", "revoke", f"{customer['id']}-{issued.json()['id']}")

    assert "ci" in listed.text
    assert secret not in listed.text
    assert revoked.status_code == 200, revoked.text
    keys = await console_client.get("/api/v1/api-keys", headers=headers)
    assert keys.json()[0]["revoked_at"] is not None
    [entry] = await audit_entries(context, revoked)
    assert (entry.action, entry.target_type, entry.target_id) == ("api_key.revoke", "api_key", str(issued.json()["id"]))
    assert entry.before == {"revoked_at": None}
    assert entry.after is not None
    recorded = datetime.fromisoformat(entry.after["revoked_at"])
    assert recorded == datetime.fromisoformat(keys.json()[0]["revoked_at"])
    page = await post_form(console_client, "/admin/", {}, action="/admin/logout")
    assert page.status_code == 303
