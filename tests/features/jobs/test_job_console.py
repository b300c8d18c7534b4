"""Jobs in the admin console, through the jobs service: a dead job retried and a queued one cancelled, each recorded
once in the audit trail as the signed-in administrator's; a move the job's state does not allow is refused and
leaves no entry (SQLite and PostgreSQL)."""

import httpx
from sqlalchemy import update

from app.core.context import AppContext
from app.core.jobs import Job, JobState, enqueue
from app.features.users import service as users_service
from tests.support.console import account, audit_entries, row_action, sign_in
from tests.support.jobs import Note, Recorder, recording_type


async def _job(context: AppContext, state: JobState) -> int:
    async with context.database.session(writes=True) as session, session.begin():
        job = await enqueue(session, recording_type(Recorder()), Note(text="console"))
        await session.execute(update(Job).where(Job.id == job.id).values(state=state, attempts=3))
    return job.id


async def test_a_dead_job_is_retried_then_cancelled_and_each_is_recorded(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    admin = await account(context)
    assert (await sign_in(console_client, admin)).status_code == 303
    async with context.database.session(writes=False) as session:
        admin_id = (await users_service.get_user_by_email(session, email=admin)).id
    dead = await _job(context, JobState.DEAD)

    retried = await row_action(console_client, "jobs", "retry", dead)
    cancelled = await row_action(console_client, "jobs", "cancel", dead)

    assert retried.status_code == 200, retried.text
    [entry] = await audit_entries(context, retried)
    assert (entry.action, entry.target_id, entry.actor_user_id) == ("job.retry", str(dead), admin_id)
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["state"], entry.after["state"]) == ("dead", "queued")
    assert cancelled.status_code == 200, cancelled.text
    [entry] = await audit_entries(context, cancelled)
    assert entry.action == "job.cancel"
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["state"], entry.after["state"]) == ("queued", "cancelled")


async def test_a_move_the_state_does_not_allow_is_refused_and_leaves_no_entry(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    assert (await sign_in(console_client, await account(context))).status_code == 303
    running = await _job(context, JobState.RUNNING)

    refused = await row_action(console_client, "jobs", "cancel", running)

    assert refused.status_code == 400, refused.text  # the console offers no cancel of a running job
    assert await audit_entries(context, refused) == []
    async with context.database.session(writes=False) as session:
        assert (await session.get_one(Job, running)).state == JobState.RUNNING


async def test_the_list_is_filtered_by_one_state(context: AppContext, console_client: httpx.AsyncClient) -> None:
    assert (await sign_in(console_client, await account(context))).status_code == 303
    dead, queued = await _job(context, JobState.DEAD), await _job(context, JobState.QUEUED)

    listed = await console_client.get("/admin/jobs/list", params={"filter": "state__in=dead"})
    two = await console_client.get("/admin/jobs/list", params={"filter": "state__in=dead,queued"})

    assert f"/admin/jobs/detail?pk={dead}&" in listed.text
    assert f"/admin/jobs/detail?pk={queued}&" not in listed.text
    assert two.status_code == 400
    assert "one state at a time" in two.text
