"""A user's sessions in the admin console, through the sessions service: their live sessions listed (never a
token), one revoked on its own while the others go on, recorded once in the audit trail as the administrator's; the
administrator's own console session marked (SQLite and PostgreSQL)."""

import httpx

from app.core.context import AppContext
from app.features.users import service as users_service
from tests import helpers
from tests.support.console import account, audit_entries, row_action, sign_in

LIST = "/admin/sessions/list"


async def test_one_session_is_revoked_and_the_others_go_on(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    customer = await helpers.register(console_client)
    laptop = await helpers.login(console_client, customer["email"])
    phone = await helpers.login(console_client, customer["email"])
    admin = await account(context)
    assert (await sign_in(console_client, admin)).status_code == 303
    laptop_session = helpers.session_id_of(laptop["access_token"])

    listed = await console_client.get(LIST, params={"q": str(customer["id"])})
    users = await console_client.get("/admin/users/list", params={"q": customer["email"]})
    revoked = await row_action(console_client, "sessions", "revoke", f"{customer['id']}-{laptop_session}")

    assert listed.status_code == 200
    assert f"{customer['id']}-{laptop_session}" in listed.text
    assert f"{customer['id']}-{helpers.session_id_of(phone['access_token'])}" in listed.text
    assert laptop["refresh_token"] not in listed.text
    assert f"/admin/sessions/list?q={customer['id']}" in users.text  # the user's row links to their sessions
    assert revoked.status_code == 200, revoked.text
    me = "/api/v1/users/me"
    assert (await console_client.get(me, headers=helpers.bearer(laptop["access_token"]))).status_code == 401
    assert (await console_client.get(me, headers=helpers.bearer(phone["access_token"]))).status_code == 200
    [entry] = await audit_entries(context, revoked)
    async with context.database.session(writes=False) as session:
        admin_id = (await users_service.get_user_by_email(session, email=admin)).id
    assert (entry.action, entry.target_type, entry.target_id) == ("user.revoke_session", "user", str(customer["id"]))
    assert (entry.after, entry.actor_user_id) == ({"session_id": int(laptop_session)}, admin_id)
    again = await console_client.get("/admin/sessions/detail", params={"pk": f"{customer['id']}-{laptop_session}"})
    assert again.status_code == 404  # ended: no longer a live session


async def test_the_administrators_own_console_session_is_marked(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    admin = await account(context)
    assert (await sign_in(console_client, admin)).status_code == 303
    async with context.database.session(writes=False) as session:
        admin_id = (await users_service.get_user_by_email(session, email=admin)).id

    listed = await console_client.get(LIST, params={"q": str(admin_id)})
    nobody = await console_client.get(LIST, params={"q": "not-an-id"})

    assert listed.status_code == 200
    [console_session] = listed.text.split(f"/admin/sessions/detail?pk={admin_id}-")[1:2]
    shown = await console_client.get(
        "/admin/sessions/detail", params={"pk": f"{admin_id}-{console_session.split('&')[0]}"}
    )
    assert shown.status_code == 200
    assert "This console" in shown.text
    assert nobody.status_code == 200
    assert "/admin/sessions/detail?pk=" not in nobody.text
