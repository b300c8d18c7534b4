"""Mail is queued in the caller's transaction, its bodies sealed: a request's mail is sent after the request
commits (by the embedded worker, not in the request), and a request that fails sends nothing."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import APIRouter

from app.config import API_PREFIX, Settings
from app.core.context import Context
from app.core.database import Database, DBSession
from app.core.encryption import EncryptionKeys
from app.core.exceptions import ConflictError
from app.core.jobs import JobState
from app.core.mail import Message, QueuedMail, configured_mailer, send_mail, unseal
from app.main import create_app
from tests.support import processes
from tests.support.app import running
from tests.support.jobs import all_jobs
from tests.support.mail import settled
from tests.support.settings import BASE_URL
from tests.support.smtp import SmtpServer

TOKEN = "c2VjcmV0LXJlc2V0LXRva2Vu"
MESSAGE = Message(
    to="ada@example.com",
    subject="Reset your password",
    text=f"https://app.example.com/reset-password?token={TOKEN}",
    html=f'<a href="https://app.example.com/reset-password?token={TOKEN}">Reset</a>',
)


async def test_the_bodies_wait_in_the_job_sealed(settings: Settings, keys: EncryptionKeys, database: Database) -> None:
    mailer = configured_mailer(settings, keys)
    async with database.session(writes=True) as session, session.begin():
        job = await mailer.enqueue(session, MESSAGE)
    [stored] = await all_jobs(database)
    assert (stored.id, stored.type, stored.max_attempts) == (job.id, send_mail.name, send_mail.max_attempts)
    assert TOKEN not in json.dumps(stored.payload)  # a reset link is a credential: not readable in the job table
    assert (stored.payload["to"], stored.payload["subject"]) == ("ada@example.com", "Reset your password")
    assert stored.payload["sender"] == settings.mail_from
    bodies = unseal(QueuedMail.model_validate(stored.payload), keys)
    assert (bodies.text, bodies.html) == (MESSAGE.text, MESSAGE.html)


async def test_a_mail_queued_in_a_transaction_that_rolls_back_does_not_exist(
    settings: Settings, keys: EncryptionKeys, database: Database
) -> None:
    mailer = configured_mailer(settings, keys)
    async with database.session(writes=True) as session, session.begin():
        await mailer.enqueue(session, MESSAGE)
        await session.rollback()
    assert await all_jobs(database) == []


def mail_router() -> APIRouter:
    """`POST /test-mail?to=&fail=`: queues a mail through the app's mailer in the request's transaction, then fails
    (409) when asked to."""
    router = APIRouter()

    @router.post("/test-mail", status_code=202)
    async def queue_mail(context: Context, session: DBSession, to: str, fail: bool = False) -> dict[str, int]:
        job = await context.mailer.enqueue(session, MESSAGE.model_copy(update={"to": to}))
        if fail:
            msg = "failed after queueing the mail"
            raise ConflictError(msg)
        return {"job": job.id}

    return router


@dataclass(frozen=True, slots=True)
class Served:
    client: httpx.AsyncClient
    server: SmtpServer


@pytest.fixture
async def served(
    settings: Settings, smtp_server: SmtpServer, database: Database, request: pytest.FixtureRequest
) -> AsyncIterator[Served]:
    """The app, its embedded worker on, its mail going to the test's SMTP server (or, for a test marked `unanswered`,
    to a port where nothing listens: chosen when the fixture runs, as pytest-xdist needs every worker to collect the
    same test ids)."""
    port = processes.free_port() if getattr(request, "param", None) == "unanswered" else smtp_server.port
    configured = smtp_server.configure(settings, smtp_port=port, jobs_run_in_server=True, jobs_poll_seconds=0.02)
    app = create_app(configured)
    app.include_router(mail_router(), prefix=API_PREFIX)
    async with (
        running(app) as started,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as client,
    ):
        yield Served(client, smtp_server)


async def test_a_request_s_mail_is_sent_after_it_commits(served: Served, database: Database) -> None:
    response = await served.client.post(f"{API_PREFIX}/test-mail", params={"to": "ada@example.com"})
    assert response.status_code == 202
    [mail] = await served.server.wait_for(1)
    assert (mail.recipients, mail.subject) == (["ada@example.com"], "Reset your password")
    assert TOKEN in mail.text
    done = await settled(database, response.json()["job"])
    assert done.state == JobState.SUCCEEDED


async def test_a_request_that_fails_sends_no_mail(served: Served, database: Database) -> None:
    response = await served.client.post(f"{API_PREFIX}/test-mail", params={"to": "ada@example.com", "fail": "true"})
    assert response.status_code == 409
    assert await all_jobs(database) == []  # nothing left that a worker could send


@pytest.mark.parametrize("served", ["unanswered"], indirect=True)
async def test_a_request_does_not_wait_for_the_mail_server(served: Served, database: Database) -> None:
    response = await served.client.post(f"{API_PREFIX}/test-mail", params={"to": "ada@example.com"})
    assert response.status_code == 202  # answered although no mail server listens
    failed = await settled(database, response.json()["job"], retried=True)
    assert failed.last_error is not None
    assert "SMTPConnectError" in failed.last_error
    assert served.server.received == []
