"""`perform`: the one road of every change the console makes, and the signed-in administrator it is made by."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from app.core.context import context_of
from app.core.database import committing

__all__ = ["ConsoleAction", "ConsoleAdmin", "admin_of", "perform", "read_session", "sign_in_admin"]

_ADMIN_STATE = "forge.console_admin"

_log = structlog.get_logger("app.console")


@dataclass(frozen=True, slots=True)
class ConsoleAdmin:
    """The administrator signed in to the console for this request, and the session it is signed in with."""

    user_id: int
    email: str
    session_id: int


def sign_in_admin(request: Request, admin: ConsoleAdmin) -> None:
    """Remember who the request's administrator is (the console's sign-in does, on every request)."""
    request.scope.setdefault("state", {})[_ADMIN_STATE] = admin


def admin_of(request: Request) -> ConsoleAdmin:
    """The request's signed-in administrator (the console refuses every other request before a view runs)."""
    admin: ConsoleAdmin = request.scope["state"][_ADMIN_STATE]
    return admin


@dataclass(frozen=True, slots=True)
class ConsoleAction:
    """What an administrator asked for: the view (`products`), the action (`create`, `update`, `delete`, `cancel`,
    `revoke`...) and its target's id, when it has one."""

    view: str
    name: str
    target: str | None = None


@asynccontextmanager
async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for a view's reads (each statement autocommits, as the API's GET requests do)."""
    async with committing(context_of(request).database.session(writes=False)) as session:
        yield session


async def perform[T](request: Request, action: ConsoleAction, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one change, `work` (a call of the feature's service, never a write of its own), in a transaction of its
    own: committed when it returns, rolled back when it raises, as an API request's is.

    Every create, edit, delete and action of every view comes through here, and only here, so that what is done
    for each (the audit trail of admin actions) is done in one place, in the change's transaction: `admin_of(request)`
    is who, `action` what, and the transaction when.
    """
    async with committing(context_of(request).database.session(writes=True)) as session:
        result = await work(session)
    _log.info(
        "console_action", admin=admin_of(request).user_id, view=action.view, action=action.name, target=action.target
    )
    return result
