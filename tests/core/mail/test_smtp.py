"""Mail sent by its job to a real SMTP server running in the test (aiosmtpd): the message as received, TLS
(STARTTLS and implicit, certificates verified), logins, and which failures are retried and which are final."""

from pathlib import Path

from pydantic import SecretStr

from app import TITLE
from app.config import Settings, SmtpTls
from app.core.database import Database
from app.core.encryption import EncryptionKeys
from app.core.jobs import JobState
from app.core.mail import Mailer, Message, configured_mailer
from tests.support import processes, smtp
from tests.support.mail import INSTANT_RETRIES, queue, sending, settled
from tests.support.smtp import SmtpServer

LINK = "https://app.example.com/verify-email?token=AbC-123_xyz%3D%3D&next=/settings/very/long/path/" + "x" * 80
MESSAGE = Message(
    to="ada@example.com",
    subject="Confirm your address",
    text=f"Hello Ada,\n\nconfirm your address: {LINK}\n",
    html=f'<p>Hello Ada,</p><p><a href="{LINK}">Confirm your address</a></p>',
)


def mailer_for(server: SmtpServer, settings: Settings, keys: EncryptionKeys, **overrides: object) -> Mailer:
    return configured_mailer(server.configure(settings, **overrides), keys)


async def test_the_job_sends_the_mail_with_its_headers_and_both_bodies(
    smtp_server: SmtpServer, settings: Settings, keys: EncryptionKeys, database: Database
) -> None:
    mailer = mailer_for(smtp_server, settings, keys)
    job = await queue(database, mailer, MESSAGE)
    async with sending(database, mailer):
        [mail] = await smtp_server.wait_for(1)
        done = await settled(database, job.id)
    assert (done.state, done.attempts) == (JobState.SUCCEEDED, 1)
    assert (mail.mail_from, mail.recipients) == ("noreply@localhost", ["ada@example.com"])
    assert mail.header("From") == settings.mail_from == f"{TITLE} <noreply@localhost>"
    assert mail.header("To") == "ada@example.com"
    assert mail.subject == "Confirm your address"
    assert mail.header("Message-ID") == job.payload["message_id"]
    assert mail.header("Date") is not None
    assert mail.header("Auto-Submitted") == "auto-generated"
    assert mail.message.get_content_type() == "multipart/alternative"
    assert mail.text == MESSAGE.text
    assert mail.html is not None
    assert mail.html.strip() == MESSAGE.html
    assert (mail.tls, mail.login) == (False, None)
    assert smtp_server.commands["DATA"] == 1


async def test_a_text_only_mail_has_one_part(
    smtp_server: SmtpServer, settings: Settings, keys: EncryptionKeys, database: Database
) -> None:
    mailer = mailer_for(smtp_server, settings, keys)
    await queue(database, mailer, MESSAGE.model_copy(update={"html": None}))
    async with sending(database, mailer):
        [mail] = await smtp_server.wait_for(1)
    assert mail.message.get_content_type() == "text/plain"
    assert (mail.text, mail.html) == (MESSAGE.text, None)


async def test_starttls_then_a_login(
    tmp_path: Path, settings: Settings, keys: EncryptionKeys, database: Database
) -> None:
    async with smtp.serving(tmp_path, tls="starttls", credentials=("app", "relay-pa55")) as server:
        mailer = mailer_for(server, settings, keys)
        await queue(database, mailer, MESSAGE)
        async with sending(database, mailer):
            [mail] = await server.wait_for(1)
    assert (mail.tls, mail.login) == (True, "app")
    assert mail.text == MESSAGE.text


async def test_implicit_tls_then_a_login(
    tmp_path: Path, settings: Settings, keys: EncryptionKeys, database: Database
) -> None:
    async with smtp.serving(tmp_path, tls="tls", credentials=("app", "relay-pa55")) as server:
        mailer = mailer_for(server, settings, keys)
        await queue(database, mailer, MESSAGE)
        async with sending(database, mailer):
            [mail] = await server.wait_for(1)
    assert (mail.tls, mail.login) == (True, "app")
    assert mail.subject == MESSAGE.subject


async def test_a_server_whose_certificate_is_not_trusted_gets_nothing(
    tmp_path: Path, settings: Settings, keys: EncryptionKeys, database: Database
) -> None:
    async with smtp.serving(tmp_path, tls="tls", credentials=("app", "relay-pa55")) as server:
        mailer = mailer_for(server, settings, keys, smtp_ca_file=None)  # the system's CAs never signed it
        job = await queue(database, mailer, MESSAGE)
        async with sending(database, mailer):
            retried = await settled(database, job.id, retried=True)
    assert retried.attempts == 1
    assert retried.last_error is not None
    assert retried.last_error.startswith("MailDeliveryError: ")
    assert "CERTIFICATE_VERIFY_FAILED" in retried.last_error
    assert server.received == []
    assert server.commands["RCPT"] == 0


async def test_starttls_is_required_not_tried(
    smtp_server: SmtpServer, settings: Settings, keys: EncryptionKeys, database: Database
) -> None:
    mailer = mailer_for(smtp_server, settings, keys, smtp_tls=SmtpTls.STARTTLS)  # the server offers no STARTTLS
    job = await queue(database, mailer, MESSAGE)
    async with sending(database, mailer):
        retried = await settled(database, job.id, retried=True)
    assert retried.last_error is not None
    assert "SMTPException" in retried.last_error
    assert "STARTTLS" in retried.last_error
    assert (smtp_server.received, smtp_server.commands["RCPT"]) == ([], 0)  # nothing went out in clear


async def test_a_refused_login_is_retried_not_final(
    tmp_path: Path, settings: Settings, keys: EncryptionKeys, database: Database
) -> None:
    async with smtp.serving(tmp_path, tls="starttls", credentials=("app", "relay-pa55")) as server:
        # The relay's password was changed, the app's not yet: its mail waits for the fix rather than being lost.
        mailer = mailer_for(server, settings, keys, smtp_password=SecretStr("before-the-rotation"))
        job = await queue(database, mailer, MESSAGE)
        async with sending(database, mailer):
            retried = await settled(database, job.id, retried=True)
    assert retried.last_error is not None
    assert "SMTPAuthenticationError" in retried.last_error
    assert "535" in retried.last_error
    assert server.received == []


async def test_a_transient_failure_is_retried_then_delivered(
    smtp_server: SmtpServer, settings: Settings, keys: EncryptionKeys, database: Database
) -> None:
    smtp_server.answer_next("DATA", "451 4.3.0 Try again later")
    mailer = mailer_for(smtp_server, settings, keys)
    job = await queue(database, mailer, MESSAGE)
    async with sending(database, mailer, job_type=INSTANT_RETRIES):
        done = await settled(database, job.id)
    assert (done.state, done.attempts) == (JobState.SUCCEEDED, 2)
    assert done.last_error is not None
    assert "451" in done.last_error
    [mail] = smtp_server.received
    assert smtp_server.commands["DATA"] == 2
    assert mail.header("Message-ID") == job.payload["message_id"]  # the same mail, sent again


async def test_a_permanent_refusal_is_final(
    smtp_server: SmtpServer, settings: Settings, keys: EncryptionKeys, database: Database
) -> None:
    smtp_server.answer_next("RCPT", "550 5.1.1 No such user")
    mailer = mailer_for(smtp_server, settings, keys)
    job = await queue(database, mailer, MESSAGE)
    async with sending(database, mailer, job_type=INSTANT_RETRIES):  # a retry would come at once: none does
        dead = await settled(database, job.id)
    assert (dead.state, dead.attempts) == (JobState.DEAD, 1)
    assert dead.last_error is not None
    assert dead.last_error.startswith("GiveUp: ")
    assert "550" in dead.last_error
    assert "No such user" in dead.last_error
    assert smtp_server.received == []
    assert smtp_server.commands["RCPT"] == 1


async def test_a_server_that_is_not_there_is_tried_again_later(
    smtp_server: SmtpServer, settings: Settings, keys: EncryptionKeys, database: Database
) -> None:
    mailer = mailer_for(smtp_server, settings, keys, smtp_port=processes.free_port())
    job = await queue(database, mailer, MESSAGE)
    async with sending(database, mailer):
        retried = await settled(database, job.id, retried=True)
    assert retried.attempts == 1
    assert retried.last_error is not None
    assert retried.last_error.startswith("MailDeliveryError: 127.0.0.1:")
    assert "SMTPConnectError" in retried.last_error
