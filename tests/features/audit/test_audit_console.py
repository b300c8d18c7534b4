"""The audit trail's page in the admin console: read-only, newest first, filtered as the API filters it (by
administrator, action, target, and a time range), each entry's fields before and after on its own page; filters the
API would refuse, or could not express, are refused (SQLite and PostgreSQL)."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.core.context import AppContext
from tests.support.audit import audit_as
from tests.support.console import account, sign_in

LIST = "/admin/audit/list"
ACTOR = 77


async def _recorded(context: AppContext, action: str, target_id: int, **changes: Any) -> None:
    async with context.database.session(writes=True) as session, session.begin():
        await audit_as(ACTOR).record(session, action=action, target_type="widget", target_id=target_id, **changes)


def _filter(*rules: str, logic: str = "AND") -> dict[str, str]:
    """The list's `filter` parameter as the filter builder writes it: `field__filter=value` rules joined by AND/OR."""
    return {"filter": f" {logic} ".join(rules)}


async def _signed_in(context: AppContext, http: httpx.AsyncClient) -> None:
    assert (await sign_in(http, await account(context))).status_code == 303


async def test_entries_are_listed_newest_first_with_what_they_changed(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    await _recorded(context, "widget.create", 1, after={"name": "Cog", "secret_code": "hunter2"})
    await _recorded(context, "widget.update", 1, before={"name": "Cog"}, after={"name": "Sprocket"})
    await _signed_in(context, console_client)

    listed = await console_client.get(LIST)

    assert listed.status_code == 200
    assert listed.text.index("widget.update") < listed.text.index("widget.create")
    assert "name: Cog -&gt; Sprocket" in listed.text
    assert "hunter2" not in listed.text  # masked when it was recorded
    assert 'type="search"' not in listed.text  # nothing to search by text: the filters are the builder's


async def test_the_filters_are_the_apis(context: AppContext, console_client: httpx.AsyncClient) -> None:
    await _recorded(context, "widget.create", 1, after={"name": "Cog"})
    await _recorded(context, "widget.delete", 2, before={"name": "Gear"})
    await _signed_in(context, console_client)
    now = datetime.now(UTC).replace(tzinfo=None)

    by_action = await console_client.get(LIST, params=_filter("action__eq=widget.delete"))
    by_target = await console_client.get(LIST, params=_filter("target_id__eq=1"))
    by_actor = await console_client.get(LIST, params=_filter("actor_user_id__eq=78"))
    hour_ago, half_hour_ago, in_an_hour = (
        (now + timedelta(minutes=minutes)).isoformat(timespec="minutes") for minutes in (-60, -30, 60)
    )
    by_time = await console_client.get(LIST, params=_filter(f"occurred_at__between={hour_ago}..{in_an_hour}"))
    too_early = await console_client.get(LIST, params=_filter(f"occurred_at__between={hour_ago}..{half_hour_ago}"))

    assert ("widget.delete" in by_action.text, "widget.create" in by_action.text) == (True, False)
    assert ("widget.create" in by_target.text, "widget.delete" in by_target.text) == (True, False)
    assert "widget." not in by_actor.text
    assert ("widget.create" in by_time.text, "widget.delete" in by_time.text) == (True, True)
    assert "widget." not in too_early.text


async def test_filters_the_api_would_refuse_or_cannot_express_are_refused(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    await _signed_in(context, console_client)
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="minutes")
    either = ["action__eq=widget.create", "action__eq=widget.delete"]

    empty_range = await console_client.get(LIST, params=_filter(f"occurred_at__between={now}..{now}"))
    alternatives = await console_client.get(LIST, params=_filter(*either, logic="OR"))
    too_long = await console_client.get(LIST, params=_filter(f"target_id__eq={'9' * 65}"))

    assert empty_range.status_code == 400
    assert "since must be before until" in empty_range.text
    assert alternatives.status_code == 400
    assert "every rule at once (AND)" in alternatives.text
    assert too_long.status_code == 400
    assert "target_id" in too_long.text


async def test_an_entry_is_read_only_with_its_fields_before_and_after(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    await _recorded(context, "widget.update", 5, before={"teeth": 12}, after={"teeth": 14})
    await _signed_in(context, console_client)
    listed = await console_client.get(LIST)
    entry_id = re.findall(r"/admin/audit/detail\?pk=(\d+)", listed.text)[0]

    shown = await console_client.get("/admin/audit/detail", params={"pk": entry_id})
    edit = await console_client.get("/admin/audit/edit", params={"pk": entry_id})
    create = await console_client.get("/admin/audit/create")

    assert shown.status_code == 200
    assert "teeth" in shown.text
    assert "14" in shown.text
    assert edit.status_code == 403
    assert create.status_code == 403
    assert "/admin/audit/edit" not in listed.text
