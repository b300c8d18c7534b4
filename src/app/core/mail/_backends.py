"""Where mail goes: the `MailBackend` protocol, and the two backends for development (a file per mail, the console).

A backend sends one MIME message. `MailDeliveryError` says it was not sent this time (the job retries it);
`MailRefusedError` that it never will be (the job is dead at once). The SMTP backend is in `_smtp.py`.
"""

import asyncio
import re
import sys
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Protocol, TextIO

import structlog

__all__ = ["ConsoleBackend", "FileBackend", "MailBackend", "MailDeliveryError", "MailRefusedError"]

_log = structlog.get_logger("app.mail")
_UNSAFE_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9._-]")


class MailDeliveryError(Exception):
    """The mail was not sent this time (the server is away, busy, or answered 4xx): another attempt may succeed."""


class MailRefusedError(MailDeliveryError):
    """The server refused the mail for good (5xx): sending it again cannot succeed."""


class MailBackend(Protocol):
    """Sends a mail. `readable_source`: people read what it keeps (a file, the console), so bodies stay unencoded."""

    @property
    def name(self) -> str: ...

    @property
    def readable_source(self) -> bool: ...

    async def send(self, message: EmailMessage) -> None: ...


def _summary(message: EmailMessage) -> dict[str, str]:
    return {"to": str(message["To"]), "subject": str(message["Subject"])}


class FileBackend:
    """Each mail an .eml file under `directory` (any mail client opens one), and a log line naming the file.

    The name comes from the mail's Date and Message-ID, which every attempt of a job shares: a retried job rewrites
    its file rather than adding another. The file appears whole (written aside, then renamed).
    """

    name = "file"
    readable_source = True

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_of(self, message: EmailMessage) -> Path:
        sent = parsedate_to_datetime(str(message["Date"]))
        local_part = str(message["Message-ID"]).strip("<>").partition("@")[0]
        return self.directory / f"{sent:%Y%m%d-%H%M%S}-{_UNSAFE_IN_FILE_NAMES.sub('_', local_part)}.eml"

    async def send(self, message: EmailMessage) -> None:
        path = await asyncio.to_thread(self._write, message)
        _log.info("mail_written", file=str(path), **_summary(message))

    def _write(self, message: EmailMessage) -> Path:
        path = self.path_of(message).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(message.as_bytes())
        partial.replace(path)
        return path


class ConsoleBackend:
    """Each mail written to `stream` (stderr, where the logs go, by default): its headers and its text body as
    written, then a note if it has an HTML alternative (FORGE_MAIL_BACKEND=file keeps that too).

    Written directly rather than as a log line, because the logs redact what looks like a credential in a URL
    (`?token=`), and the link in a mail is what a developer came to read.
    """

    name = "console"
    readable_source = True

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def send(self, message: EmailMessage) -> None:
        stream = self._stream or sys.stderr  # as it is now: a test runner may have replaced it since
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        lines = [f"----- mail {message['Message-ID']} -----"]
        headers = ("Date", "From", "To", "Reply-To", "Subject")
        lines += [f"{header}: {message[header]}" for header in headers if message[header] is not None]
        body = text.get_content() if isinstance(text, EmailMessage) else ""
        lines += ["", body.rstrip("\n"), ""]
        if html is not None:
            lines.append("(and an HTML alternative, which FORGE_MAIL_BACKEND=file keeps)")
        lines.append("----- end of mail -----")
        stream.write("\n".join(lines) + "\n")
        stream.flush()
