"""The mailer: composes mail from templates, queues it in the caller's transaction, and delivers it from the
`mail.send` job through the configured backend.

Mail never leaves in the request: `await mailer.enqueue(session, message)` adds a job to the request's
transaction, so the mail exists if and only if the request's writes commit, and a worker sends it after. Delivery is
at least once (docs/jobs.md); the Message-ID, fixed when the mail was queued, is the same for every attempt.
"""

from collections.abc import Mapping
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app import TITLE
from app.config import MailBackendName, Settings
from app.core.encryption import EncryptionKeys
from app.core.jobs import Backoff, GiveUp, Job, JobContext, enqueue, job_type
from app.core.mail._backends import ConsoleBackend, FileBackend, MailBackend, MailRefusedError
from app.core.mail._message import Message, QueuedMail, seal, to_email, unseal
from app.core.mail._smtp import SmtpBackend
from app.core.mail._templates import MailTemplates

__all__ = ["Mailer", "configured_backend", "configured_mailer", "send_mail"]

_log = structlog.get_logger("app.mail")


class Mailer:
    """The app's mail: `compose` from templates, `enqueue` in a transaction, `deliver` (the job's part)."""

    def __init__(self, *, sender: str, templates: MailTemplates, backend: MailBackend, keys: EncryptionKeys) -> None:
        self.sender = sender
        self.templates = templates
        self.backend = backend
        self._keys = keys

    def compose(
        self, template: str, *, to: str, context: Mapping[str, Any] | None = None, reply_to: str | None = None
    ) -> Message:
        """The mail rendered from `template` (`<template>.subject.txt`, `.txt`, optional `.html`) with `context`."""
        rendered = self.templates.render(template, context or {})
        return Message(to=to, subject=rendered.subject, text=rendered.text, html=rendered.html, reply_to=reply_to)

    async def enqueue(self, session: AsyncSession, message: Message) -> Job:
        """Queue `message` in `session`'s transaction: it is sent after, and only if, that transaction commits."""
        queued = seal(message, sender=self.sender, keys=self._keys)
        job = await enqueue(session, send_mail, queued)
        _log.info("mail_queued", job_id=job.id, message_id=queued.message_id)
        return job

    async def deliver(self, queued: QueuedMail) -> None:
        """Send a queued mail now (the job's part): `MailDeliveryError` to try again, `MailRefusedError` never."""
        email = to_email(queued, unseal(queued, self._keys), readable_source=self.backend.readable_source)
        await self.backend.send(email)


@job_type(
    name="mail.send",
    payload=QueuedMail,
    timeout_seconds=120,  # a few SMTP steps of FORGE_SMTP_TIMEOUT_SECONDS (at most 60) each
    # Three to five hours of retries (30 s doubling to an hour, jittered): a relay's outage, a greylisting server.
    max_attempts=12,
    backoff=Backoff(base_seconds=30, max_seconds=3600),
)
async def send_mail(queued: QueuedMail, context: JobContext) -> None:
    if context.mailer is None:
        msg = "this worker has no mailer: build it with configured_worker(..., mailer=...)"
        raise RuntimeError(msg)
    try:
        await context.mailer.deliver(queued)
    except MailRefusedError as exc:
        raise GiveUp(str(exc)) from exc


def configured_backend(settings: Settings) -> MailBackend:
    """The backend FORGE_MAIL_BACKEND names, as the settings configure it."""
    match settings.mail_backend:
        case MailBackendName.FILE:
            return FileBackend(settings.mail_dir)
        case MailBackendName.CONSOLE:
            return ConsoleBackend()
        case MailBackendName.SMTP:
            return SmtpBackend.configured(settings)


def configured_mailer(settings: Settings, keys: EncryptionKeys) -> Mailer:
    """The app's mailer: FORGE_MAIL_FROM, the templates (the project's first), the backend, the sealing keys."""
    return Mailer(
        sender=settings.mail_from,
        templates=MailTemplates(project_dir=settings.mail_templates_dir, shared={"service_name": TITLE}),
        backend=configured_backend(settings),
        keys=keys,
    )
