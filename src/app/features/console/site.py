"""The console as `app.main` installs it: the shared site, signed in to by this feature, with the app's sections."""

import hashlib
import hmac
from collections.abc import Sequence

from starlette.applications import Starlette

from app.config import Settings
from app.features.console.signin import ConsoleSignIn
from app.shared.console import ConsoleSection, build_console

__all__ = ["install_console"]


def _signing_key(settings: Settings) -> str:
    """starlette-admin's key for its signed cookies (the CSRF token, flash messages): derived from the app's secret,
    so that every instance shares it and restarts keep it, with no setting of its own."""
    secret = settings.secret_key.get_secret_value().encode()
    return hmac.new(secret, b"forge.console.signing-key", hashlib.sha256).hexdigest()


def install_console(app: Starlette, *, settings: Settings, title: str, sections: Sequence[ConsoleSection]) -> None:
    """Mount the admin console (FORGE_ADMIN_ENABLED) at /admin."""
    build_console(
        app,
        title=f"{title} console",
        sections=sections,
        auth_provider=ConsoleSignIn(),
        secret_key=_signing_key(settings),
    )
