"""Webhooks in the admin console, through the webhooks service: endpoints listed without their secrets, disabled
and enabled; an endpoint's deliveries with their attempts, a finished one redelivered and a refusal in the API's
words; each change recorded once in the audit trail as the administrator's (SQLite and PostgreSQL)."""

from datetime import UTC, datetime, timedelta

import httpx

from app.core.context import AppContext
from app.features.webhooks.models import DeliveryState
from tests.support.console import account, audit_entries, row_action, sign_in
from tests.support.webhooks import stored_deliveries

URL = "https://hooks.example.com/console"


async def test_endpoints_are_listed_without_their_secrets_and_disabled_and_enabled(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    endpoint_id, _ = await stored_deliveries(context.database, [], url=URL)
    assert (await sign_in(console_client, await account(context))).status_code == 303

    listed = await console_client.get("/admin/webhooks/list")
    shown = await console_client.get("/admin/webhooks/detail", params={"pk": endpoint_id})
    disabled = await row_action(console_client, "webhooks", "disable", endpoint_id)
    enabled = await row_action(console_client, "webhooks", "enable", endpoint_id)

    assert URL in listed.text
    assert "whsec_" not in listed.text + shown.text
    assert f"/admin/webhook-deliveries/list?q={endpoint_id}" in listed.text  # the endpoint's deliveries
    assert disabled.status_code == 200, disabled.text
    [entry] = await audit_entries(context, disabled)
    assert (entry.action, entry.target_id, entry.before, entry.after) == (
        "webhook.update",
        str(endpoint_id),
        {"enabled": True},
        {"enabled": False},
    )
    assert enabled.status_code == 200, enabled.text
    assert [e.after for e in await audit_entries(context, enabled)] == [{"enabled": True}]


async def test_a_finished_delivery_is_redelivered_and_a_pending_one_is_not(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    now = datetime.now(UTC)
    endpoint_id, (failed, pending) = await stored_deliveries(
        context.database, [(DeliveryState.FAILED, now - timedelta(minutes=5)), (DeliveryState.PENDING, None)]
    )
    assert (await sign_in(console_client, await account(context))).status_code == 303

    listed = await console_client.get("/admin/webhook-deliveries/list", params={"q": str(endpoint_id)})
    redelivered = await row_action(console_client, "webhook-deliveries", "redeliver", f"{endpoint_id}-{failed}")
    still_going = await row_action(console_client, "webhook-deliveries", "redeliver", f"{endpoint_id}-{pending}")

    assert f"{endpoint_id}-{failed}" in listed.text
    assert f"{endpoint_id}-{pending}" in listed.text
    assert redelivered.status_code == 200, redelivered.text
    [entry] = await audit_entries(context, redelivered)
    assert (entry.action, entry.target_type, entry.target_id) == ("webhook.redeliver", "webhook_delivery", str(failed))
    assert entry.after is not None
    assert entry.after["state"] == "pending"
    shown = await console_client.get("/admin/webhook-deliveries/detail", params={"pk": f"{endpoint_id}-{failed}"})
    assert "pending" in shown.text.lower()
    assert still_going.status_code == 400  # a pending delivery has no redeliver
    assert await audit_entries(context, still_going) == []

    _, [elsewhere] = await stored_deliveries(context.database, [(DeliveryState.SUCCEEDED, now)])
    wrong_endpoint = f"{endpoint_id}-{elsewhere}"  # another endpoint's delivery, named under this one
    assert (
        await console_client.get("/admin/webhook-deliveries/detail", params={"pk": wrong_endpoint})
    ).status_code == 404


async def test_redelivering_to_a_disabled_endpoint_is_refused_in_the_apis_words(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    endpoint_id, [failed] = await stored_deliveries(context.database, [(DeliveryState.FAILED, datetime.now(UTC))])
    assert (await sign_in(console_client, await account(context))).status_code == 303
    assert (await row_action(console_client, "webhooks", "disable", endpoint_id)).status_code == 200

    refused = await row_action(console_client, "webhook-deliveries", "redeliver", f"{endpoint_id}-{failed}")

    assert refused.status_code == 400
    assert refused.json()["msg"] == f"Webhook {endpoint_id} is disabled: enable it to send to it."
    assert await audit_entries(context, refused) == []
