"""`perform`: the one road of every change the console makes, and the signed-in administrator it is made by, whose
`Audit` the change's service records it with."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from app.core.audit import Actor, AdminAction, Audit, AuditTrail
from app.core.context import context_of
from app.core.database import committing

__all__ = [
    "ConsoleAction",
    "ConsoleAdmin",
    "UnauditedActionError",
    "admin_of",
    "perform",
    "read_session",
    "sign_in_admin",
]

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


class UnauditedActionError(RuntimeError):
    """A console action recorded no audit entry, or more than one: a fault of its view, never of the user's input.
    The change is rolled back, so that nothing an administrator does in the console goes unrecorded."""


class _CountedTrail:
    """The app's audit trail, counting what one action appends to it."""

    def __init__(self, trail: AuditTrail) -> None:
        self.trail = trail
        self.appended = 0

    async def append(self, session: AsyncSession, action: AdminAction) -> None:
        await self.trail.append(session, action)
        self.appended += 1


async def perform[T](request: Request, action: ConsoleAction, work: Callable[[AsyncSession, Audit], Awaitable[T]]) -> T:
    """Run one change, `work` (a call of the feature's service, never a write of its own), in a transaction of its
    own: committed when it returns, rolled back when it raises, as an API request's is.

    Every create, edit, delete and action of every view comes through here, and only here. `work` gets the signed-in
    administrator's `Audit`, which it passes to the service (the service records its action, as it does for the
    API); an action that no service records is recorded by its view with `audit.record`. Exactly one entry per
    action, in the change's transaction: otherwise the change is rolled back (`UnauditedActionError`).
    """
    context = context_of(request)
    admin = admin_of(request)
    trail = _CountedTrail(context.audit)
    audit = Audit(trail, Actor(user_id=admin.user_id))
    async with committing(context.database.session(writes=True)) as session:
        result = await work(session, audit)
        if trail.appended != 1:
            msg = f"console action {action} recorded {trail.appended} audit entries instead of one"
            raise UnauditedActionError(msg)
    _log.info("console_action", admin=admin.user_id, view=action.view, action=action.name, target=action.target)
    return result
