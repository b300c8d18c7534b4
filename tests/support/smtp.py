"""A real SMTP server in the test's own event loop (aiosmtpd), and the mail it received.

`serving()` listens on 127.0.0.1 on a free port, in plain text, with STARTTLS (required before any mail) or with
implicit TLS, and optionally with a login; its certificate is signed by a CA made for the run (`TestCertificates`),
which `configure(settings)` makes the app trust through FORGE_SMTP_CA_FILE. A test scripts failures with
`answer_next("DATA", "451 ...")` and reads what arrived in `received` (`wait_for` polls). For example:

    async with smtp.serving() as server:
        settings = server.configure(settings)  # FORGE_MAIL_BACKEND=smtp, host, port, TLS, credentials
        ...  # run the app, or a worker, with those settings
        [mail] = await server.wait_for(1)
        assert mail.subject == "Confirm your address"
"""

import asyncio
import warnings
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import SecretStr

from app.config import MailBackendName, Settings, SmtpTls
from tests.support.certificates import TestCertificates
from tests.support.polling import eventually

__all__ = ["Received", "SmtpServer", "serving"]

type Tls = Literal["none", "starttls", "tls"]
HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Received:
    """One mail the server accepted: its envelope, the parsed message, and how it came."""

    mail_from: str
    recipients: list[str]
    message: EmailMessage
    tls: bool  # the connection was encrypted (STARTTLS or implicit TLS) when the mail was sent
    login: str | None  # the user name the client logged in with

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def header(self, name: str) -> str | None:
        value = self.message[name]
        return None if value is None else str(value)

    def _part(self, subtype: str) -> str | None:
        part = self.message.get_body(preferencelist=(subtype,))
        return None if part is None or part.get_content_subtype() != subtype else str(part.get_content())

    @property
    def text(self) -> str:
        text = self._part("plain")
        assert text is not None, "the mail has no text/plain part"
        return text

    @property
    def html(self) -> str | None:
        return self._part("html")


@dataclass
class SmtpServer:
    """The running server: where it listens, what it received, and the replies scripted for its next commands."""

    port: int
    tls: Tls
    certificates: TestCertificates
    credentials: tuple[str, str] | None
    received: list[Received] = field(default_factory=list)
    commands: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))  # "RCPT": times seen
    scripted: defaultdict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))

    def answer_next(self, command: Literal["RCPT", "DATA"], *replies: str) -> None:
        """Answer the next `command`s with these replies, in order (`"451 4.3.0 Try again later"`), not 250."""
        self.scripted[command].extend(replies)

    def configure(self, settings: Settings, **overrides: Any) -> Settings:
        """`settings` pointing the app's mail at this server (its CA trusted, its login used)."""
        username, password = self.credentials or (None, None)
        values: dict[str, Any] = {
            "mail_backend": MailBackendName.SMTP,
            "smtp_host": HOST,
            "smtp_port": self.port,
            "smtp_tls": SmtpTls(self.tls),
            "smtp_ca_file": self.certificates.ca_file,
            "smtp_username": username,
            "smtp_password": SecretStr(password) if password is not None else None,
            "smtp_timeout_seconds": 5.0,
        }
        return settings.model_copy(update=values | overrides)

    async def wait_for(self, count: int, *, seconds: float = 10.0) -> list[Received]:
        """The mail received once there are at least `count`."""
        await eventually(lambda: len(self.received) >= count, seconds=seconds, message=f"{count} mail received")
        return list(self.received)

    def _reply(self, command: str) -> str | None:
        self.commands[command] += 1
        replies = self.scripted[command]
        return replies.popleft() if replies else None

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook names
        self, _server: SMTP, _session: Session, envelope: Envelope, address: str, _options: list[str]
    ) -> str:
        if (reply := self._reply("RCPT")) is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if (reply := self._reply("DATA")) is not None:
            return reply
        content = (envelope.original_content or b"").replace(b"\r\n", b"\n")  # as a mail client reads it
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        transport = server.transport
        self.received.append(
            Received(
                mail_from=envelope.mail_from or "",
                recipients=list(envelope.rcpt_tos),
                message=message_from_bytes(content, policy=policy.default),
                tls=transport is not None and transport.get_extra_info("ssl_object") is not None,
                login=login,
            )
        )
        return "250 Message accepted for delivery"

    def authenticate(
        self, _server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, auth_data: object
    ) -> AuthResult:
        accepted = (
            self.credentials is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login.decode(), auth_data.password.decode()) == self.credentials
        )
        # Not `handled`: aiosmtpd answers a refusal itself (535 5.7.8 Authentication credentials invalid).
        return AuthResult(success=accepted, handled=False, auth_data=auth_data if accepted else None)


@asynccontextmanager
async def serving(
    directory: Path, *, tls: Tls = "none", credentials: tuple[str, str] | None = None
) -> AsyncIterator[SmtpServer]:
    """An SMTP server on 127.0.0.1 (a free port) in the running event loop, closed when the block ends.

    `starttls`: STARTTLS is offered and required before any mail; `tls`: TLS from the first byte. With
    `credentials`, a login is required (and, on `starttls`, only after STARTTLS, as real servers do).
    """
    certificates = TestCertificates.create(directory)
    context = certificates.server_context()
    loop = asyncio.get_running_loop()
    smtp = SmtpServer(port=0, tls=tls, certificates=certificates, credentials=credentials)

    def protocol() -> SMTP:
        with warnings.catch_warnings():
            # On implicit TLS the connection is encrypted from the first byte, which aiosmtpd cannot tell: it warns
            # that a login without STARTTLS is unsafe, and would refuse one unless told not to require it.
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
            return SMTP(
                smtp,
                hostname="smtp.test",
                tls_context=context if tls == "starttls" else None,
                require_starttls=tls == "starttls",
                authenticator=smtp.authenticate if credentials is not None else None,
                auth_required=credentials is not None,
                auth_require_tls=tls != "tls",
                loop=loop,
            )

    server = await loop.create_server(protocol, HOST, 0, ssl=context if tls == "tls" else None)
    smtp.port = server.sockets[0].getsockname()[1]
    try:
        yield smtp
    finally:
        server.close()
        async with asyncio.timeout(10):
            await server.wait_closed()
