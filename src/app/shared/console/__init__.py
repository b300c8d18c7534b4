"""The admin console's machinery, with no domain knowledge: the site built on starlette-admin (`build_console`),
the sections features contribute to it (`ConsoleSection`), the base of views that read and write only through a
feature's service (`ServiceView`), and `perform`, the one road every change made in the console takes.

The console is a feature's concern only where it signs people in (features/console); each feature's own views are
in its `admin.py`, and `app.main` lists their sections, as it lists the routers.
"""

from app.shared.console._actions import (
    ConsoleAction,
    UnauditedActionError,
    admin_of,
    perform,
    read_session,
    sign_in_admin,
)
from app.shared.console._errors import field_errors, refusal
from app.shared.console._filters import Between, NumberIs, OneOf, TextIs, chosen, rules_of
from app.shared.console._site import (
    CONSOLE_CSP,
    CONSOLE_PATH,
    ConsoleAdmin,
    ConsoleSection,
    DashboardPanel,
    build_console,
)
from app.shared.console._views import UNSEARCHED, ServiceView, integer_pk, page_of, pair_pk

__all__ = [
    "CONSOLE_CSP",
    "CONSOLE_PATH",
    "UNSEARCHED",
    "Between",
    "ConsoleAction",
    "ConsoleAdmin",
    "ConsoleSection",
    "DashboardPanel",
    "NumberIs",
    "OneOf",
    "ServiceView",
    "TextIs",
    "UnauditedActionError",
    "admin_of",
    "build_console",
    "chosen",
    "field_errors",
    "integer_pk",
    "page_of",
    "pair_pk",
    "perform",
    "read_session",
    "refusal",
    "rules_of",
    "sign_in_admin",
]
