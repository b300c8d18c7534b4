"""Admins register, read, change, delete and rotate webhook endpoints, and see and resend their deliveries; the
secret is shown on creation and rotation only; everyone else is refused (SQLite and PostgreSQL)."""

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook

from app.config import API_PREFIX
from app.core.jobs import Job
from app.features.webhooks.models import DeliveryState, WebhookDelivery
from tests import helpers
from tests.support.settings import PRODUCTION_SECRETS

WEBHOOKS = f"{API_PREFIX}/admin/webhooks"
PRODUCTION: pytest.MarkDecorator = pytest.mark.settings(**PRODUCTION_SECRETS)
HOOK = {"url": "https://hooks.example.com/in", "events": ["test.happened"], "description": "CRM"}


async def _create(client: httpx.AsyncClient, admin: helpers.Headers, **changes: Any) -> dict[str, Any]:
    response = await client.post(WEBHOOKS, json=HOOK | changes, headers=admin)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_endpoint_is_created_with_a_secret_shown_once(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    created = await _create(client, admin)
    assert created["secret"].startswith("whsec_")
    Webhook(created["secret"])  # a secret any Standard Webhooks library takes
    assert (created["url"], created["events"], created["description"], created["enabled"]) == (
        HOOK["url"],
        ["test.happened"],
        "CRM",
        True,
    )
    read = (await client.get(f"{WEBHOOKS}/{created['id']}", headers=admin)).json()
    listed = (await client.get(WEBHOOKS, headers=admin)).json()
    assert read == {key: value for key, value in created.items() if key != "secret"}
    assert listed["items"] == [read]
    assert created["secret"] not in str(read) + str(listed)
    # Stored encrypted: the column's raw value is not the secret.
    raw = (await db_session.execute(text("SELECT secret FROM webhook_endpoint"))).scalar_one()
    assert created["secret"] not in raw


async def test_an_endpoint_is_changed_and_deleted(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    created = await _create(client, admin)
    url = f"{WEBHOOKS}/{created['id']}"
    changed = await client.patch(url, json={"events": ["*"], "enabled": False, "description": ""}, headers=admin)
    assert changed.status_code == 200
    body = changed.json()
    assert (body["events"], body["enabled"], body["description"], body["url"]) == (["*"], False, "", HOOK["url"])
    assert body["disabled_at"] is not None
    enabled = (await client.patch(url, json={"enabled": True}, headers=admin)).json()
    assert (enabled["enabled"], enabled["disabled_at"], enabled["failing_since"]) == (True, None, None)
    assert "secret" not in enabled
    assert (await client.delete(url, headers=admin)).status_code == 204
    helpers.problem(await client.get(url, headers=admin), 404, "not-found")
    helpers.problem(await client.delete(url, headers=admin), 404, "not-found")


async def test_rotation_shows_the_new_secret_once_and_keeps_the_old_signing_for_a_day(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    created = await _create(client, admin)
    rotated = await client.post(f"{WEBHOOKS}/{created['id']}/rotate-secret", headers=admin)
    assert rotated.status_code == 200
    body = rotated.json()
    assert body["secret"].startswith("whsec_")
    assert body["secret"] != created["secret"]
    assert body["previous_secret_expires_at"] is not None
    read = (await client.get(f"{WEBHOOKS}/{created['id']}", headers=admin)).text
    assert body["secret"] not in read
    assert created["secret"] not in read


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"url": "ftp://hooks.example.com/in"}, "#/url"),
        ({"url": "https://user:password@hooks.example.com/in"}, "#/url"),
        ({"url": "http://127.0.0.1:9000/in"}, "#/url"),
        ({"url": "http://169.254.169.254/latest/meta-data/"}, "#/url"),
        ({"url": "http://[fd00:ec2::254]/"}, "#/url"),
        ({"events": []}, "#/events"),
        ({"events": ["order placed"]}, "#/events/0"),
        ({"secret": "whsec_mine"}, "#/secret"),
    ],
)
async def test_invalid_endpoints_are_422_and_write_nothing(
    client: httpx.AsyncClient, admin: helpers.Headers, changes: dict[str, Any], pointer: str
) -> None:
    response = await client.post(WEBHOOKS, json=HOOK | changes, headers=admin)
    assert helpers.error_pointers(response) == [pointer]
    assert (await client.get(WEBHOOKS, headers=admin)).json()["total"] == 0


@PRODUCTION
async def test_production_takes_https_urls_only(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    response = await client.post(WEBHOOKS, json=HOOK | {"url": "http://hooks.example.com/in"}, headers=admin)
    assert helpers.error_pointers(response) == ["#/url"]
    assert "https" in response.json()["errors"][0]["detail"]
    await _create(client, admin)  # https


async def test_a_changed_url_is_checked_as_a_new_one(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    created = await _create(client, admin)
    response = await client.patch(f"{WEBHOOKS}/{created['id']}", json={"url": "http://10.0.0.1/"}, headers=admin)
    assert helpers.error_pointers(response) == ["#/url"]
    assert (await client.get(f"{WEBHOOKS}/{created['id']}", headers=admin)).json()["url"] == HOOK["url"]


async def test_a_test_message_is_queued_and_listed_with_its_state(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    created = await _create(client, admin)
    sent = await client.post(f"{WEBHOOKS}/{created['id']}/test", headers=admin)
    assert sent.status_code == 202
    delivery = sent.json()
    assert (delivery["event_type"], delivery["state"], delivery["attempts"]) == ("webhook.test", "pending", [])
    assert delivery["message_id"].startswith("msg_")
    job = await db_session.get_one(Job, delivery["job_id"])
    assert (job.type, job.payload) == ("webhooks.deliver", {"delivery_id": delivery["id"]})

    listed = (await client.get(f"{WEBHOOKS}/{created['id']}/deliveries", headers=admin)).json()
    assert (listed["total"], listed["items"]) == (1, [delivery])
    assert created["secret"] not in str(listed)
    # Still pending: nothing to resend yet.
    redeliver = f"{WEBHOOKS}/{created['id']}/deliveries/{delivery['id']}/redeliver"
    helpers.problem(await client.post(redeliver, headers=admin), 409, "delivery-pending")

    stored = await db_session.get_one(WebhookDelivery, delivery["id"])
    stored.state = DeliveryState.FAILED
    await db_session.flush()
    again = await client.post(redeliver, headers=admin)
    assert again.status_code == 202
    assert (again.json()["state"], again.json()["message_id"]) == ("pending", delivery["message_id"])
    assert again.json()["job_id"] != delivery["job_id"]


async def test_a_disabled_endpoint_is_sent_nothing(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    created = await _create(client, admin)
    await client.patch(f"{WEBHOOKS}/{created['id']}", json={"enabled": False}, headers=admin)
    helpers.problem(await client.post(f"{WEBHOOKS}/{created['id']}/test", headers=admin), 409, "webhook-disabled")


async def test_unknown_endpoints_and_deliveries_are_404(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    created = await _create(client, admin)
    for method, path in [
        ("GET", "/999999"),
        ("PATCH", "/999999"),
        ("POST", "/999999/rotate-secret"),
        ("GET", "/999999/deliveries"),
        ("POST", "/999999/test"),
        ("POST", "/999999/deliveries/1/redeliver"),
        ("POST", f"/{created['id']}/deliveries/999999/redeliver"),
    ]:
        body: dict[str, Any] | None = {} if method == "PATCH" else None
        response = await client.request(method, f"{WEBHOOKS}{path}", json=body, headers=admin)
        helpers.problem(response, 404, "not-found")


async def test_only_admins_manage_webhooks(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    created = await _create(client, admin)
    for headers, status in (({}, 401), (user, 403)):
        for method, path in [
            ("POST", ""),
            ("GET", ""),
            ("GET", f"/{created['id']}"),
            ("PATCH", f"/{created['id']}"),
            ("DELETE", f"/{created['id']}"),
            ("POST", f"/{created['id']}/rotate-secret"),
            ("GET", f"/{created['id']}/deliveries"),
            ("POST", f"/{created['id']}/test"),
        ]:
            body = HOOK if method == "POST" and not path else {} if method == "PATCH" else None
            response = await client.request(method, f"{WEBHOOKS}{path}", json=body, headers=headers)
            assert response.status_code == status, (method, path)
            assert created["url"] not in response.text
    # Nothing the refused callers asked for happened.
    read = (await client.get(f"{WEBHOOKS}/{created['id']}", headers=admin)).json()
    assert (read["previous_secret_expires_at"], read["enabled"]) == (None, True)
    assert (await client.get(WEBHOOKS, headers=admin)).json()["total"] == 1
