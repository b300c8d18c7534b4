"""The console's site: starlette-admin's, mounted at /admin, with the sections features contribute, a dashboard
of their panels, the app's own templates (no web font from a CDN) and the console's Content-Security-Policy."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette_admin import BaseAdmin, ColumnWidget, CustomView
from starlette_admin.auth import BaseAuthProvider
from starlette_admin.views import BaseView
from starlette_admin.widgets import BaseWidget

from app.shared.console._actions import ConsoleAdmin

__all__ = ["CONSOLE_CSP", "CONSOLE_PATH", "ConsoleAdmin", "ConsoleSection", "DashboardPanel", "build_console"]

CONSOLE_PATH = "/admin"
TEMPLATES = Path(__file__).parent / "templates"

# Everything from the service's own origin, and nothing else (the assets are starlette-admin's, served from the
# package). 'unsafe-inline' for scripts: starlette-admin's pages carry inline scripts whose content varies per page
# (the list's columns and actions) and inline event handlers (onclick, onchange), which neither a hash nor a nonce
# can allow without rewriting its templates. Autoescaping in every template is what keeps injected markup out;
# no other origin can be loaded from, posted to, or frame the console. Styles: inline style attributes and blocks.
CONSOLE_CSP = (
    b"default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    b"frame-ancestors 'none'"
)

type DashboardPanel = BaseWidget


@dataclass(frozen=True, slots=True)
class ConsoleSection:
    """What a feature adds to the console: its views (classes: each app makes its own) and its dashboard panels."""

    views: Sequence[type[BaseView]] = ()
    panels: Sequence[DashboardPanel] = field(default_factory=tuple)


def build_console(
    app: Starlette,
    *,
    title: str,
    sections: Sequence[ConsoleSection],
    auth_provider: BaseAuthProvider,
    secret_key: str,
    panels: Sequence[DashboardPanel] = (),
) -> None:
    """Mount the console on `app` at CONSOLE_PATH: the dashboard (`panels`, then the sections', one under another,
    each laid out by its section) first, then each section's views in order."""
    dashboard = CustomView(
        menu_label="Dashboard",
        icon="fa fa-chart-line",
        path="/",
        widget=ColumnWidget(children=[*panels, *(panel for section in sections for panel in section.panels)]),
    )
    admin = BaseAdmin(
        title=title,
        base_url=CONSOLE_PATH,
        route_name="admin",
        templates_dir=str(TEMPLATES),
        index_view=dashboard,
        auth_provider=auth_provider,
        secret_key=secret_key,
        favicon_url="data:,",  # no icon, and no request for /favicon.ico
    )
    for section in sections:
        for view in section.views:
            admin.add_view(view)
    admin.mount_to(app)
