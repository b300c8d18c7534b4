"""Dynamic endpoint specs in the admin console, through the dynamic endpoints service: listed, each shown with its
schemas; disabled (no longer served, its documents kept) and enabled again, each recorded once in the audit trail
as the administrator's (SQLite and PostgreSQL)."""

import httpx

from app.core.context import AppContext
from tests import helpers
from tests.support.console import account, audit_entries, row_action, sign_in
from tests.support.dynamic_endpoints import ADMIN_ENDPOINTS, collection

BOOKS = "/api/v1/x/books"


async def test_a_spec_is_disabled_and_enabled_from_the_console(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    email = await account(context)
    admin = helpers.bearer((await helpers.login(console_client, email))["access_token"])
    spec = (await console_client.post(ADMIN_ENDPOINTS, json=collection(summary="Books"), headers=admin)).json()
    assert (await console_client.post(BOOKS, json={"title": "Dune"})).status_code == 201
    assert (await sign_in(console_client, email)).status_code == 303

    listed = await console_client.get("/admin/endpoint-specs/list")
    shown = await console_client.get("/admin/endpoint-specs/detail", params={"pk": spec["id"]})
    disabled = await row_action(console_client, "endpoint-specs", "disable", spec["id"])
    while_disabled = await console_client.get(BOOKS)
    enabled = await row_action(console_client, "endpoint-specs", "enable", spec["id"])

    assert BOOKS in listed.text
    assert "pages" in shown.text  # its request schema
    assert disabled.status_code == 200, disabled.text
    assert while_disabled.status_code == 404
    [entry] = await audit_entries(context, disabled)
    assert (entry.action, entry.target_type, entry.target_id) == (
        "endpoint_spec.disable",
        "endpoint_spec",
        str(spec["id"]),
    )
    assert (entry.before, entry.after) == ({"enabled": True, "version": 1}, {"enabled": False, "version": 2})
    assert enabled.status_code == 200, enabled.text
    assert [e.action for e in await audit_entries(context, enabled)] == ["endpoint_spec.enable"]
    assert [book["title"] for book in (await console_client.get(BOOKS)).json()["items"]] == ["Dune"]
