"""Mail (docs/mail.md): composed from templates the project can override, queued in the caller's transaction as a
`mail.send` job, and sent by the workers through the configured backend: an .eml file per mail (the embedded
default), the console, or SMTP (aiosmtplib).

    message = context.mailer.compose("verify_email", to=user.email, context={"link": link})
    await context.mailer.enqueue(session, message)
"""

from app.core.mail._backends import ConsoleBackend, FileBackend, MailBackend, MailDeliveryError, MailRefusedError
from app.core.mail._mailer import Mailer, configured_backend, configured_mailer, send_mail
from app.core.mail._message import Message, QueuedMail, seal, to_email, unseal
from app.core.mail._smtp import SmtpBackend
from app.core.mail._templates import APP_TEMPLATES, MailTemplates, Rendered

__all__ = [
    "APP_TEMPLATES",
    "ConsoleBackend",
    "FileBackend",
    "MailBackend",
    "MailDeliveryError",
    "MailRefusedError",
    "MailTemplates",
    "Mailer",
    "Message",
    "QueuedMail",
    "Rendered",
    "SmtpBackend",
    "configured_backend",
    "configured_mailer",
    "seal",
    "send_mail",
    "to_email",
    "unseal",
]
