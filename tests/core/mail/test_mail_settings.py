"""The mail settings: production sends its mail (it refuses the development backends unless told to, and the
development sender), the SMTP port follows the TLS mode, and what cannot work is refused at start-up."""

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from app.config import MailBackendName, Settings, SmtpTls
from tests.support.settings import PRODUCTION_SECRETS

PRODUCTION: dict[str, Any] = PRODUCTION_SECRETS


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_development_writes_mail_to_files_under_var_mail() -> None:
    defaults = settings()
    assert defaults.mail_backend is MailBackendName.FILE
    assert defaults.mail_dir == Path("var/mail")
    assert defaults.mail_from_domain == "localhost"


@pytest.mark.parametrize("backend", ["file", "console"])
def test_production_refuses_a_development_backend_and_names_the_settings(backend: str) -> None:
    with pytest.raises(ValidationError, match=rf"FORGE_MAIL_BACKEND={backend}.*FORGE_MAIL_ALLOW_DEV_BACKEND_IN_PROD"):
        settings(**{**PRODUCTION, "mail_backend": backend})
    allowed = settings(**{**PRODUCTION, "mail_backend": backend, "mail_allow_dev_backend_in_production": True})
    assert allowed.mail_backend == backend


def test_production_refuses_the_development_sender() -> None:
    with pytest.raises(ValidationError, match="FORGE_MAIL_FROM must be set in production"):
        settings(**{k: v for k, v in PRODUCTION.items() if k != "mail_from"})
    assert settings(**PRODUCTION).mail_from_domain == "forge.test"


def test_production_refuses_a_password_sent_in_clear() -> None:
    credentials = {"smtp_username": "app", "smtp_password": "a-relay-password"}
    with pytest.raises(ValidationError, match="FORGE_SMTP_TLS=none"):
        settings(**PRODUCTION, **credentials, smtp_tls="none")
    assert settings(**PRODUCTION, **credentials, smtp_tls="starttls").smtp_username == "app"
    assert settings(**credentials, smtp_tls="none").smtp_tls is SmtpTls.NONE  # a developer's own relay


def test_username_and_password_go_together() -> None:
    with pytest.raises(ValidationError, match="FORGE_SMTP_USERNAME and FORGE_SMTP_PASSWORD"):
        settings(smtp_username="app")
    with pytest.raises(ValidationError, match="FORGE_SMTP_USERNAME and FORGE_SMTP_PASSWORD"):
        settings(smtp_password="a-relay-password")


@pytest.mark.parametrize(("tls", "port"), [("none", 25), ("starttls", 587), ("tls", 465)])
def test_the_smtp_port_follows_the_tls_mode_unless_set(tls: str, port: int) -> None:
    assert settings(smtp_tls=tls).effective_smtp_port == port
    assert settings(smtp_tls=tls, smtp_port=1025).effective_smtp_port == 1025


@pytest.mark.parametrize("sender", ["", "nobody", "Name <>", "a@b\r\nBcc: x@example.com"])
def test_the_sender_must_be_an_address(sender: str) -> None:
    with pytest.raises(ValidationError, match="is not a mail address"):
        settings(mail_from=sender)


def test_the_sender_may_carry_a_name() -> None:
    named = settings(mail_from="Billing <billing@Example.COM>")
    assert (named.mail_from, named.mail_from_domain) == ("Billing <billing@Example.COM>", "example.com")


def test_the_smtp_password_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORGE_SMTP_USERNAME", "app")
    monkeypatch.setenv("FORGE_SMTP_PASSWORD", "a-relay-password")
    configured = settings()
    assert configured.smtp_password is not None
    assert configured.smtp_password.get_secret_value() == "a-relay-password"
    assert "a-relay-password" not in repr(configured)
