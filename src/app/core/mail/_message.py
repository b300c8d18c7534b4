"""A mail: what a feature composes (`Message`), the job payload it is queued as (`QueuedMail`, its bodies sealed),
and the MIME message a backend sends (`to_email`).

The bodies are encrypted with the app's field-encryption keys (`FORGE_ENCRYPTION_KEYS`) while they wait in the job
table: a password-reset link is a credential, and the queue's payloads are kept for days and shown to admins
(`GET /api/v1/admin/jobs`). The recipient and the subject stay readable, so that an admin can tell which mail a
failed job holds.
"""

import json
import uuid
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, EmailStr

from app.core.database import utcnow
from app.core.encryption import EncryptionKeys

__all__ = ["Bodies", "Message", "QueuedMail", "seal", "to_email", "unseal"]


def _one_line(value: str) -> str:
    """A header value: one line, so that nothing a template or a user wrote can add a header."""
    collapsed = " ".join(value.split())
    if not collapsed:
        msg = "a mail's subject cannot be empty"
        raise ValueError(msg)
    return collapsed


Subject = Annotated[str, AfterValidator(_one_line)]


class Message(BaseModel):
    """A mail to send: one recipient, whose delivery is retried (or refused) on its own; the text body, and an HTML
    alternative if there is one. `Mailer.compose` renders one from templates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    to: EmailStr
    subject: Subject
    text: str
    html: str | None = None
    reply_to: EmailStr | None = None


class Bodies(BaseModel):
    """A mail's bodies, as sealed in its job."""

    text: str
    html: str | None = None


class QueuedMail(BaseModel):
    """The `mail.send` job's payload: the headers fixed when it was queued (its Message-ID and Date stay the same
    for every attempt, so that a receiver can tell a resent mail), the bodies encrypted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_id: str
    date: AwareDatetime
    sender: str
    to: str
    reply_to: str | None = None
    subject: str
    sealed: str


def seal(message: Message, *, sender: str, keys: EncryptionKeys, now: datetime | None = None) -> QueuedMail:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    bodies = Bodies(text=message.text, html=message.html)
    return QueuedMail(
        message_id=f"<{uuid.uuid4().hex}@{domain}>",
        date=now or utcnow(),
        sender=sender,
        to=message.to,
        reply_to=message.reply_to,
        subject=message.subject,
        sealed=keys.encrypt(bodies.model_dump_json()),
    )


def unseal(queued: QueuedMail, keys: EncryptionKeys) -> Bodies:
    """The bodies; `DecryptionError` when no configured key made them (a key removed while the mail waited)."""
    return Bodies.model_validate(json.loads(keys.decrypt(queued.sealed)))


def to_email(queued: QueuedMail, bodies: Bodies, *, readable_source: bool = False) -> EmailMessage:
    """The MIME message: text/plain, or multipart/alternative with the HTML after it (the part clients prefer).

    `readable_source` leaves the bodies unencoded (8bit), for a file or a console that a developer reads: a link
    stays as written, where quoted-printable would break it over lines and write `=` as `=3D`. Over SMTP the
    email package chooses an encoding that any server takes.
    """
    email = EmailMessage()
    email["From"] = queued.sender
    email["To"] = queued.to
    if queued.reply_to is not None:
        email["Reply-To"] = queued.reply_to
    email["Subject"] = queued.subject
    email["Date"] = format_datetime(queued.date)
    email["Message-ID"] = queued.message_id
    # RFC 3834: sent by a program, not a person: vacation responders and the like do not answer it.
    email["Auto-Submitted"] = "auto-generated"
    encoding: Literal["8bit"] | None = "8bit" if readable_source else None
    email.set_content(bodies.text, subtype="plain", charset="utf-8", cte=encoding)
    if bodies.html is not None:
        email.add_alternative(bodies.html, subtype="html", charset="utf-8", cte=encoding)
    return email
