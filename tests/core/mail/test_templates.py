"""Mail rendered from templates: the project's directory (FORGE_MAIL_TEMPLATES_DIR) wins over the app's templates,
name by name and layouts included; HTML is autoescaped, text is not; a missing variable fails where the mail is
composed, never as a blank in a sent mail."""

from pathlib import Path
from typing import Any

import pytest
from jinja2 import TemplateNotFound, UndefinedError

from app import TITLE
from app.config import Settings
from app.core.encryption import EncryptionKeys
from app.core.mail import APP_TEMPLATES, MailTemplates, configured_mailer
from app.main import create_app


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (directory / name).write_text(content, encoding="utf-8")
    return directory


WELCOME = {
    "welcome.subject.txt": "Welcome to {{ service_name }},\n  {{ name }}\n",
    "welcome.txt": '{% extends "base.txt" %}{% block body %}Hello {{ name }}, start here: {{ link }}{% endblock %}',
    "welcome.html": '{% extends "base.html" %}{% block body %}<p>Hello {{ name }}, <a href="{{ link }}">start here</a>'
    "</p>{% endblock %}",
}
LINK = "https://app.example.com/start?token=abc&next=%2Fhome"


def test_a_project_template_extends_the_app_s_layouts(tmp_path: Path) -> None:
    templates = MailTemplates(project_dir=write(tmp_path, WELCOME), shared={"service_name": "Billing"})
    rendered = templates.render("welcome", {"name": "Ada", "link": LINK})
    assert rendered.subject == "Welcome to Billing, Ada"  # one line, whatever the template's layout
    assert rendered.text == f"Hello Ada, start here: {LINK}\n\nBilling\n"  # the app's base.txt signs it
    assert rendered.html is not None
    assert rendered.html.startswith("<!DOCTYPE html>")  # the app's base.html
    assert '<a href="https://app.example.com/start?token=abc&amp;next=%2Fhome">start here</a>' in rendered.html
    assert "<title>Billing</title>" in rendered.html


def test_the_project_s_layout_wins_over_the_app_s(tmp_path: Path) -> None:
    project = write(
        tmp_path,
        {**WELCOME, "base.html": "<main>{% block body %}{% endblock %}</main> Sent by Billing's own layout"},
    )
    rendered = MailTemplates(project_dir=project, shared={"service_name": "Billing"}).render(
        "welcome", {"name": "Ada", "link": LINK}
    )
    assert rendered.html is not None
    assert rendered.html.startswith("<main><p>Hello Ada")
    assert rendered.html.endswith("Sent by Billing's own layout")
    assert "<!DOCTYPE html>" not in rendered.html
    assert rendered.text.rstrip().endswith("Billing")  # base.txt is still the app's


def test_the_app_s_layouts_are_what_a_project_overrides(tmp_path: Path) -> None:
    assert {"base.txt", "base.html"} <= {path.name for path in APP_TEMPLATES.iterdir()}
    project = write(tmp_path, {"base.txt": "{% block body %}{% endblock %}\n\n-- \nthe project's signature"})
    templates = MailTemplates(project_dir=write(project, WELCOME), shared={"service_name": "Billing"})
    rendered = templates.render("welcome", {"name": "Ada", "link": LINK})
    assert rendered.text == f"Hello Ada, start here: {LINK}\n-- \nthe project's signature"


def test_html_is_autoescaped_and_text_and_subject_are_not(tmp_path: Path) -> None:
    templates = MailTemplates(project_dir=write(tmp_path, WELCOME), shared={"service_name": "Billing"})
    rendered = templates.render("welcome", {"name": "<script>alert(1)</script> & Co", "link": LINK})
    assert rendered.html is not None
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in rendered.html
    assert rendered.text.startswith("Hello <script>alert(1)</script> & Co,")
    assert rendered.subject == "Welcome to Billing, <script>alert(1)</script> & Co"


def test_a_variable_the_caller_did_not_give_is_an_error(tmp_path: Path) -> None:
    templates = MailTemplates(project_dir=write(tmp_path, WELCOME), shared={"service_name": "Billing"})
    with pytest.raises(UndefinedError, match="'link' is undefined"):
        templates.render("welcome", {"name": "Ada"})


def test_the_html_body_is_optional_the_text_body_is_not(tmp_path: Path) -> None:
    project = write(tmp_path, {"notice.subject.txt": "Notice", "notice.txt": "Plain only"})
    rendered = MailTemplates(project_dir=project).render("notice", {})
    assert (rendered.subject, rendered.text, rendered.html) == ("Notice", "Plain only", None)
    (project / "notice.txt").unlink()
    with pytest.raises(TemplateNotFound, match=r"notice\.txt"):
        MailTemplates(project_dir=project).render("notice", {})


def test_the_mailer_composes_a_message_to_its_recipient(
    tmp_path: Path, settings: Settings, keys: EncryptionKeys
) -> None:
    mailer = configured_mailer(settings.model_copy(update={"mail_templates_dir": write(tmp_path, WELCOME)}), keys)
    message = mailer.compose("welcome", to="ada@example.com", context={"name": "Ada", "link": LINK})
    assert (message.to, message.subject) == ("ada@example.com", f"Welcome to {TITLE}, Ada")
    assert message.html is not None
    assert LINK in message.text


def test_a_templates_directory_that_does_not_exist_stops_the_app_at_start(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(ValueError, match=r"FORGE_MAIL_TEMPLATES_DIR=.*missing is not a directory"):
        create_app(settings.model_copy(update={"mail_templates_dir": tmp_path / "missing"}))


# The app's own mails, with the variables docs/mail.md lists for each (a name may be None).
APP_MAILS: dict[str, dict[str, Any]] = {
    "verify_email": {"link": LINK, "name": "<b>Ada</b>", "hours": 72, "change": False},
    "password_reset": {"link": LINK, "name": "<b>Ada</b>", "minutes": 30},
    "email_changed": {"old_email": "ada@example.com", "new_email": "ada@example.org", "name": "<b>Ada</b>"},
}


@pytest.mark.parametrize("name", sorted(APP_MAILS))
def test_the_app_s_mails_render_both_bodies_from_their_documented_variables(name: str) -> None:
    templates = MailTemplates(shared={"service_name": "Billing"})
    for variables in (APP_MAILS[name], {**APP_MAILS[name], "name": None}):
        rendered = templates.render(name, variables)
        assert rendered.subject
        assert rendered.html is not None
        assert "None" not in rendered.text
        assert rendered.text.endswith("\n\nBilling\n")
        if "link" in variables:  # the link whole in both bodies, its `&` escaped as HTML needs
            assert LINK in rendered.text
            assert LINK.replace("&", "&amp;") in rendered.html
    named = templates.render(name, APP_MAILS[name])
    assert "&lt;b&gt;Ada&lt;/b&gt;" in (named.html or "")  # a user's name is text in HTML
    assert "<b>Ada</b>" in named.text


def test_a_verification_mail_for_a_new_address_says_so() -> None:
    templates = MailTemplates(shared={"service_name": "Billing"})
    first = templates.render("verify_email", APP_MAILS["verify_email"])
    change = templates.render("verify_email", {**APP_MAILS["verify_email"], "change": True})
    assert (first.subject, change.subject) == ("Confirm your e-mail address", "Confirm your new e-mail address")
    assert "keeps its current address" in change.text
