"""Every admin action through the API leaves exactly one audit entry, in its own transaction: who, what, to what,
the request, and the fields it changed with secrets masked; a refused action leaves none (SQLite and PostgreSQL).
The example features' actions are tested beside them (tests/features/products, tests/features/orders)."""

import httpx
import orjson
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import API_PREFIX
from app.core.audit import MASK
from app.core.jobs import Job, JobState, enqueue
from app.features.webhooks.models import DeliveryState, WebhookDelivery
from tests import helpers
from tests.support.audit import assert_no_entry, entries, entry_of
from tests.support.dynamic_endpoints import ADMIN_ENDPOINTS, static
from tests.support.jobs import Note, Recorder, recording_type

USERS = f"{API_PREFIX}/users"
JOBS = f"{API_PREFIX}/admin/jobs"
WEBHOOKS = f"{API_PREFIX}/admin/webhooks"
HOOK = {"url": "https://hooks.example.com/in", "events": ["test.happened"], "description": "CRM"}


async def _id_of(client: httpx.AsyncClient, headers: helpers.Headers) -> int:
    user_id: int = (await client.get(f"{USERS}/me", headers=headers)).json()["id"]
    return user_id


async def test_a_role_change_and_a_deactivation_are_recorded_with_what_changed(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers, db_session: AsyncSession
) -> None:
    admin_id, user_id = await _id_of(client, admin), await _id_of(client, user)
    promoted = await client.patch(f"{USERS}/{user_id}", json={"role": "admin"}, headers=admin)
    entry = await entry_of(
        db_session, promoted, action="user.update", target_type="user", target_id=str(user_id), actor_user_id=admin_id
    )
    assert (entry.before, entry.after, entry.actor_api_key_id) == ({"role": "user"}, {"role": "admin"}, None)
    assert entry.occurred_at is not None

    deactivated = await client.patch(f"{USERS}/{user_id}", json={"is_active": False, "role": "admin"}, headers=admin)
    entry = await entry_of(db_session, deactivated, action="user.update")
    assert (entry.before, entry.after) == ({"is_active": True}, {"is_active": False})  # the role did not change


async def test_signing_a_user_out_everywhere_is_recorded(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers, db_session: AsyncSession
) -> None:
    user_id = await _id_of(client, user)
    response = await client.post(f"{USERS}/{user_id}/sessions/revoke-all", headers=admin)
    entry = await entry_of(db_session, response, action="user.revoke_sessions", target_id=str(user_id))
    assert (entry.before, entry.after) == (None, {"revoked": 1})


async def test_a_refused_user_change_leaves_no_entry(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    admin_id = await _id_of(client, admin)
    await assert_no_entry(db_session, await client.patch(f"{USERS}/{admin_id}", json={"role": "user"}, headers=admin))
    await assert_no_entry(db_session, await client.patch(f"{USERS}/999999", json={"role": "user"}, headers=admin))


async def _job(session: AsyncSession, state: JobState) -> int:
    job = await enqueue(session, recording_type(Recorder()), Note(text="audited"))
    await session.execute(update(Job).where(Job.id == job.id).values(state=state, attempts=3))
    await session.commit()
    return job.id


async def test_retrying_and_cancelling_a_job_are_recorded(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    dead = await _job(db_session, JobState.DEAD)
    entry = await entry_of(db_session, await client.post(f"{JOBS}/{dead}/retry", headers=admin), action="job.retry")
    assert (entry.target_type, entry.target_id) == ("job", str(dead))
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["state"], entry.before["attempts"]) == ("dead", 3)
    assert (entry.after["state"], entry.after["attempts"]) == ("queued", 0)

    entry = await entry_of(db_session, await client.post(f"{JOBS}/{dead}/cancel", headers=admin), action="job.cancel")
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["state"], entry.after["state"]) == ("queued", "cancelled")

    running = await _job(db_session, JobState.RUNNING)
    await assert_no_entry(db_session, await client.post(f"{JOBS}/{running}/cancel", headers=admin))


async def test_a_webhook_s_secret_is_never_in_the_trail(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    created = await client.post(WEBHOOKS, json=HOOK, headers=admin)
    hook_id, secret = created.json()["id"], created.json()["secret"]
    entry = await entry_of(db_session, created, action="webhook.create", target_type="webhook", target_id=str(hook_id))
    assert entry.before is None
    assert entry.after == {
        "url": HOOK["url"],
        "event_types": ["test.happened"],
        "description": "CRM",
        "enabled": True,
        "secret": MASK,
    }

    rotated = await client.post(f"{WEBHOOKS}/{hook_id}/rotate-secret", headers=admin)
    entry = await entry_of(db_session, rotated, action="webhook.rotate_secret")
    assert entry.before is not None
    assert entry.after is not None
    # Both secrets changed (the new one, and the old one kept as previous): shown as changed, their values masked.
    assert (entry.before["secret"], entry.after["secret"]) == (MASK, MASK)
    assert (entry.before["previous_secret"], entry.after["previous_secret"]) == (None, MASK)
    for stored in await entries(db_session, target_type="webhook", target_id=str(hook_id)):
        text = orjson.dumps([stored.before, stored.after]).decode()
        assert secret not in text
        assert rotated.json()["secret"] not in text


async def test_changing_testing_and_deleting_a_webhook_are_recorded(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    hook_id = (await client.post(WEBHOOKS, json=HOOK, headers=admin)).json()["id"]
    changed = await client.patch(f"{WEBHOOKS}/{hook_id}", json={"enabled": False}, headers=admin)
    entry = await entry_of(db_session, changed, action="webhook.update")
    assert (entry.before, entry.after) == ({"enabled": True}, {"enabled": False})
    await assert_no_entry(db_session, await client.post(f"{WEBHOOKS}/{hook_id}/test", headers=admin))  # disabled: 409

    await client.patch(f"{WEBHOOKS}/{hook_id}", json={"enabled": True}, headers=admin)
    tested = await client.post(f"{WEBHOOKS}/{hook_id}/test", headers=admin)
    entry = await entry_of(db_session, tested, action="webhook.test", target_id=str(hook_id))
    assert entry.after == {"delivery_id": tested.json()["id"], "event_type": "webhook.test"}

    deleted = await client.delete(f"{WEBHOOKS}/{hook_id}", headers=admin)
    entry = await entry_of(db_session, deleted, action="webhook.delete", after=None)
    assert entry.before is not None
    assert (entry.before["url"], entry.before["secret"]) == (HOOK["url"], MASK)


async def test_a_redelivery_is_recorded_against_the_delivery(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    hook_id = (await client.post(WEBHOOKS, json=HOOK, headers=admin)).json()["id"]
    delivery = WebhookDelivery(
        endpoint_id=hook_id,
        event_type="test.happened",
        message_id="msg_audited",
        body="{}",
        state=DeliveryState.FAILED,
    )
    db_session.add(delivery)
    await db_session.commit()
    path = f"{WEBHOOKS}/{hook_id}/deliveries/{delivery.id}/redeliver"
    entry = await entry_of(db_session, await client.post(path, headers=admin), action="webhook.redeliver")
    assert (entry.target_type, entry.target_id) == ("webhook_delivery", str(delivery.id))
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["state"], entry.after["state"]) == ("failed", "pending")
    await assert_no_entry(db_session, await client.post(path, headers=admin))  # pending now: 409


async def test_endpoint_specs_created_replaced_and_deleted_are_recorded(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    created = await client.post(ADMIN_ENDPOINTS, json=static(), headers=admin)
    spec_id = created.json()["id"]
    entry = await entry_of(db_session, created, action="endpoint_spec.create", target_id=str(spec_id), before=None)
    assert entry.after is not None
    assert (entry.after["path"], entry.after["version"]) == ("/api/v1/x/status", 1)

    replaced = await client.put(f"{ADMIN_ENDPOINTS}/{spec_id}", json=static(summary="Up?"), headers=admin)
    entry = await entry_of(db_session, replaced, action="endpoint_spec.replace")
    assert (entry.before, entry.after) == ({"summary": "", "version": 1}, {"summary": "Up?", "version": 2})
    clash = await client.post(ADMIN_ENDPOINTS, json=static(), headers=admin)  # the same name: 409
    await assert_no_entry(db_session, clash)

    deleted = await client.delete(f"{ADMIN_ENDPOINTS}/{spec_id}", headers=admin)
    entry = await entry_of(db_session, deleted, action="endpoint_spec.delete", after=None)
    assert entry.before is not None
    assert entry.before["name"] == "status"
