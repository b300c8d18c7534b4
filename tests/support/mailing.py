"""Following mailed links in tests: the app with its requests committed and its embedded worker sending mail to the
test's SMTP server, the mail read back, the token taken from its link, and account tokens aged by editing their rows
(never by sleeping). The tables are emptied when the app stops.

    async with mailing_app(settings, smtp_server, engine) as mailing:
        await mailing.client.post("/api/v1/auth/password-reset", json={"email": email})
        mail = await mailing.mail_to(email, subject="Reset your password")
        token = link_token(mail, "reset-password")
"""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.core.context import AppContext, WithLifespanState
from app.core.database import Database
from app.core.jobs import Job, JobState
from app.features.users.models import AccountToken, TokenPurpose, User
from app.main import create_app
from tests.support import databases
from tests.support.app import running
from tests.support.polling import eventually
from tests.support.settings import BASE_URL
from tests.support.smtp import Received, SmtpServer

__all__ = ["Mailing", "age_tokens", "jobs_settled", "link_token", "mailing_app", "tokens_of"]

_FINISHED = {JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED}


@dataclass(frozen=True, slots=True)
class Mailing:
    client: httpx.AsyncClient
    smtp: SmtpServer
    context: AppContext
    asgi: WithLifespanState  # for a second client of the same app (a browser that also visits other hosts)

    @property
    def database(self) -> Database:
        return self.context.database

    async def mail_to(self, address: str, *, subject: str, number: int = 1) -> Received:
        """The `number`th mail to `address` with this subject, once it arrived."""

        def matching() -> list[Received]:
            return [m for m in self.smtp.received if m.recipients == [address] and m.subject == subject]

        await eventually(lambda: len(matching()) >= number, message=f"mail {number} '{subject}' to {address}")
        return matching()[number - 1]


def link_token(mail: Received, page: str) -> str:
    """The token of the mail's link to the web app's `page`: the same in the text and the HTML body."""
    pattern = re.compile(rf"https?://[^\s\"<]+/{page}\?token=([A-Za-z0-9_]+)")
    in_text = {match.group(1) for match in pattern.finditer(mail.text)}
    in_html = {match.group(1) for match in pattern.finditer(mail.html or "")}
    assert len(in_text) == 1, mail.text
    assert in_html == in_text, mail.html
    return in_text.pop()


async def jobs_settled(database: Database) -> list[Job]:
    """Every job, once none is queued or running (the mail a request caused is sent, or its job dead)."""

    async def all_jobs() -> list[Job]:
        async with database.session(writes=False) as session:
            return list((await session.execute(select(Job).order_by(Job.id))).scalars())

    async def settled() -> bool:
        return all(job.state in _FINISHED for job in await all_jobs())

    await eventually(settled, message="every job finished")
    return await all_jobs()


async def tokens_of(database: Database, email: str, purpose: TokenPurpose) -> list[AccountToken]:
    """The live (not yet deleted) tokens of the account with this address."""
    async with database.session(writes=False) as session:
        statement = (
            select(AccountToken)
            .join(User, User.id == AccountToken.user_id)
            .where(User.email == email, AccountToken.purpose == purpose)
        )
        return list((await session.execute(statement)).scalars())


async def age_tokens(database: Database, email: str, purpose: TokenPurpose, by: timedelta) -> None:
    """Make the account's tokens as if they had been issued `by` earlier."""
    tokens = await tokens_of(database, email, purpose)
    async with database.session(writes=True) as session, session.begin():
        for token in tokens:
            await session.execute(
                update(AccountToken)
                .where(AccountToken.id == token.id)
                .values(created_at=token.created_at - by, expires_at=token.expires_at - by)
            )


@asynccontextmanager
async def mailing_app(settings: Settings, smtp: SmtpServer, engine: AsyncEngine) -> AsyncIterator[Mailing]:
    """The app on `settings`, its mail sent to `smtp` by its embedded worker, its requests committed; every table
    emptied afterwards (`engine`: the test database's)."""
    configured = smtp.configure(settings, jobs_run_in_server=True, jobs_poll_seconds=0.02)
    try:
        async with (
            running(create_app(configured)) as started,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as client,
        ):
            yield Mailing(client=client, smtp=smtp, context=started.context, asgi=started.asgi)
    finally:
        await databases.empty(engine)
