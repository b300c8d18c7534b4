"""Mail templates (Jinja2): the project's directory first (`FORGE_MAIL_TEMPLATES_DIR`), then the app's own
(`templates/` beside this module), name by name, as Django's template directories come before its apps'.

A mail named `verify_email` is three files: `verify_email.subject.txt` (one line; whitespace is collapsed),
`verify_email.txt` (the plain-text body) and, optionally, `verify_email.html`. HTML is autoescaped; text is not
(it is not markup). A variable the template names but the caller did not give is an error, raised where the mail is
composed (in the request), never a blank in a sent mail.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape

__all__ = ["APP_TEMPLATES", "MailTemplates", "Rendered"]

APP_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str | None


class MailTemplates:
    """The templates mail is rendered from; `shared` are the variables every template sees (`service_name`)."""

    def __init__(self, *, project_dir: Path | None = None, shared: Mapping[str, Any] | None = None) -> None:
        if project_dir is not None and not project_dir.is_dir():
            msg = f"FORGE_MAIL_TEMPLATES_DIR={project_dir} is not a directory"
            raise ValueError(msg)
        directories = [*([project_dir] if project_dir is not None else []), APP_TEMPLATES]
        self.environment = Environment(
            loader=ChoiceLoader([FileSystemLoader(directory) for directory in directories]),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.environment.globals.update(shared or {})

    def render(self, name: str, context: Mapping[str, Any]) -> Rendered:
        """Render mail `name`: TemplateNotFound without its subject or text, UndefinedError for a missing variable."""
        subject = self.environment.get_template(f"{name}.subject.txt").render(context)
        text = self.environment.get_template(f"{name}.txt").render(context)
        try:
            html_template = self.environment.get_template(f"{name}.html")
        except TemplateNotFound:  # raised for this name only: what it extends or includes is loaded as it renders
            html = None
        else:
            html = html_template.render(context)
        return Rendered(subject=" ".join(subject.split()), text=text, html=html)
