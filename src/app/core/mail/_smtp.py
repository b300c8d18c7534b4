"""The SMTP backend (aiosmtplib): a connection per mail, TLS as configured, and the server's replies sorted into
"try again" and "never".

A connection per mail rather than a pool: mail is sent by jobs, a few at a time, and a held connection would have
to be checked (servers drop idle clients within a minute or so) for little gain.

How a failure is sorted (RFC 5321 reply codes): a 5xx reply to the mail (its sender, recipient or content) is
final, `MailRefusedError`. Everything else is `MailDeliveryError` and retried by the job: a 4xx reply (greylisting,
a full queue), a refused or dropped connection, a timeout, a TLS failure, and a refused login, even with 5xx: the
credentials are the configuration's fault, not the mail's, and mail queued while they are put right is then
delivered rather than lost.
"""

import ssl
from email.message import EmailMessage
from functools import cached_property
from pathlib import Path

import aiosmtplib
import structlog

from app.config import Settings, SmtpTls
from app.core.mail._backends import MailDeliveryError, MailRefusedError

__all__ = ["SmtpBackend"]

_log = structlog.get_logger("app.mail")


def _tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Certificates verified, host names checked: against `ca_file` when given, else the system's CAs."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        msg = f"FORGE_SMTP_CA_FILE={ca_file} is not a readable PEM bundle: {exc}"
        raise ValueError(msg) from exc


def _is_final(error: aiosmtplib.SMTPException) -> bool:
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):  # every recipient refused, each with its own reply
        return all(refusal.code >= 500 for refusal in error.recipients)  # noqa: PLR2004 - RFC 5321's 5yz
    if isinstance(error, aiosmtplib.SMTPAuthenticationError | aiosmtplib.SMTPConnectResponseError):
        return False  # the credentials, or a server not ready for anyone: not this mail's fault
    return isinstance(error, aiosmtplib.SMTPResponseException) and error.code >= 500  # noqa: PLR2004


class SmtpBackend:
    """Sends through one SMTP server, logging in when credentials are configured."""

    name = "smtp"
    readable_source = False

    def __init__(
        self,
        *,
        host: str,
        port: int,
        tls: SmtpTls,
        username: str | None = None,
        password: str | None = None,
        timeout_seconds: float = 10.0,
        ca_file: Path | None = None,
    ) -> None:
        self.host, self.port, self.tls = host, port, SmtpTls(tls)
        self._username, self._password = username, password
        self._timeout = timeout_seconds
        if ca_file is not None and not ca_file.is_file():
            msg = f"FORGE_SMTP_CA_FILE={ca_file} is not a file"
            raise ValueError(msg)
        self._ca_file = ca_file

    @cached_property
    def _tls_context(self) -> ssl.SSLContext | None:
        """Made on first use: loading the CAs takes milliseconds that an app which sends no mail need not spend."""
        return _tls_context(self._ca_file) if self.tls is not SmtpTls.NONE else None

    @classmethod
    def configured(cls, settings: Settings) -> "SmtpBackend":
        return cls(
            host=settings.smtp_host,
            port=settings.effective_smtp_port,
            tls=settings.smtp_tls,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password is not None else None,
            timeout_seconds=settings.smtp_timeout_seconds,
            ca_file=settings.smtp_ca_file,
        )

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                use_tls=self.tls is SmtpTls.TLS,
                start_tls=self.tls is SmtpTls.STARTTLS,  # required when asked for; never tried on `none`
                tls_context=self._tls_context,
                username=self._username,
                password=self._password,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPException as exc:
            reason = f"{self.host}:{self.port}: {type(exc).__name__}: {exc}"
            if _is_final(exc):
                raise MailRefusedError(reason) from exc
            raise MailDeliveryError(reason) from exc
        except OSError as exc:  # refused connections, TLS failures: aiosmtplib lets some through as they are
            msg = f"{self.host}:{self.port}: {type(exc).__name__}: {exc}"
            raise MailDeliveryError(msg) from exc
        _log.info("mail_sent", message_id=str(message["Message-ID"]), server=f"{self.host}:{self.port}")
