"""The development backends: FORGE_MAIL_BACKEND=file (the default) keeps each mail as an .eml file and logs its
name; `console` writes it to stderr. Either way a developer reads the link as written, with no mail server."""

import asyncio
import io
import logging
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from app.config import MailBackendName, Settings
from app.core.database import Database
from app.core.encryption import EncryptionKeys
from app.core.jobs import JobState
from app.core.logging import configure_logging
from app.core.mail import ConsoleBackend, FileBackend, Message, configured_mailer, seal, to_email, unseal
from tests.support.mail import queue, sending, settled

LINK = "https://app.example.com/reset-password?token=Zm9v-YmFy_0123456789abcdefABCDEF0123456789&x=" + "y" * 90
MESSAGE = Message(
    to="ada@example.com",
    subject="Reset your password",
    text=f"Follow {LINK} within 30 minutes.\n",
    html=f'<a href="{LINK}">Reset your password</a>',
)


def files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


async def test_the_file_backend_writes_an_eml_file_and_logs_its_name(
    tmp_path: Path, settings: Settings, keys: EncryptionKeys, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    configured = settings.model_copy(update={"mail_backend": MailBackendName.FILE, "mail_dir": tmp_path / "mail"})
    configure_logging(configured.model_copy(update={"log_level": "INFO"}))  # as an app's start does
    mailer = configured_mailer(configured, keys)
    job = await queue(database, mailer, MESSAGE)
    try:
        with caplog.at_level(logging.INFO, logger="app.mail"):
            async with sending(database, mailer):
                done = await settled(database, job.id)
    finally:
        configure_logging(settings)
    assert done.state == JobState.SUCCEEDED
    [written] = files(tmp_path / "mail")
    assert written.suffix == ".eml"
    [line] = [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg["event"] == "mail_written"]
    assert (line["file"], line["to"], line["subject"]) == (str(written), "ada@example.com", "Reset your password")
    source = await asyncio.to_thread(written.read_bytes)
    assert LINK.encode() in source  # as written: no quoted-printable line breaks, no =3D
    mail = message_from_bytes(source, policy=policy.default)
    assert (mail["To"], mail["Subject"], mail["Message-ID"]) == (MESSAGE.to, MESSAGE.subject, job.payload["message_id"])
    assert mail.get_content_type() == "multipart/alternative"


async def test_a_mail_written_again_replaces_its_file(tmp_path: Path, keys: EncryptionKeys) -> None:
    backend = FileBackend(tmp_path)
    queued = seal(MESSAGE, sender="noreply@example.com", keys=keys)
    for _ in range(2):  # a job's second attempt, after its first wrote the file but was not recorded
        await backend.send(to_email(queued, unseal(queued, keys), readable_source=True))
    [written] = files(tmp_path)
    assert written == backend.path_of(to_email(queued, unseal(queued, keys)))


async def test_the_console_backend_writes_the_headers_and_the_text_as_written(keys: EncryptionKeys) -> None:
    stream = io.StringIO()
    queued = seal(MESSAGE, sender="Billing <noreply@example.com>", keys=keys)
    await ConsoleBackend(stream).send(to_email(queued, unseal(queued, keys), readable_source=True))
    shown = stream.getvalue()
    assert f"----- mail {queued.message_id} -----" in shown
    assert "From: Billing <noreply@example.com>\n" in shown
    assert "To: ada@example.com\n" in shown
    assert "Subject: Reset your password\n" in shown
    assert f"\nFollow {LINK} within 30 minutes.\n" in shown
    assert "(and an HTML alternative" in shown
    assert "<a href" not in shown


async def test_the_configured_console_backend_writes_to_stderr(
    settings: Settings, keys: EncryptionKeys, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    mailer = configured_mailer(settings.model_copy(update={"mail_backend": MailBackendName.CONSOLE}), keys)
    job = await queue(database, mailer, MESSAGE.model_copy(update={"html": None}))
    async with sending(database, mailer):
        await settled(database, job.id)
    shown = capsys.readouterr().err
    assert "Subject: Reset your password" in shown
    assert LINK in shown  # not redacted as the log lines' URLs are: it is what the developer came for
    assert "HTML alternative" not in shown
