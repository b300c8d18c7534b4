"""`ServiceView`: the base of the console's model views, which read and write only through a feature's service."""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette_admin import BaseModelView
from starlette_admin.exceptions import FormValidationError
from starlette_admin.flash import flash

from app.core.audit import Audit
from app.core.exceptions import ForgeError
from app.core.pagination import MAX_PAGE_SIZE, PageParams
from app.shared.console._actions import ConsoleAction, perform
from app.shared.console._errors import field_errors, refusal

__all__ = ["UNSEARCHED", "ServiceView", "integer_pk", "page_of", "pair_pk"]

UNSEARCHED = "list_unsearched.html"


def page_of(skip: int, limit: int) -> PageParams:
    """The service's page for the console's `skip` and `limit` (the console's page sizes divide its offsets). Without
    the total: the console asks for it separately (`count`)."""
    size = max(1, min(limit, MAX_PAGE_SIZE))
    return PageParams(page=skip // size + 1, size=size, include_total=False)


def integer_pk(pk: Any) -> int | None:
    """A primary key from the console's URL, or None when it is none (the page is then a 404)."""
    try:
        value = int(str(pk))
    except ValueError:
        return None
    return value if 0 < value < 2**63 else None


def pair_pk(pk: Any) -> tuple[int, int] | None:
    """A record named by its owner and itself, `{owner}-{id}` (a user's key, an endpoint's delivery), or None."""
    owner, _, own = str(pk).partition("-")
    owner_id, own_id = integer_pk(owner), integer_pk(own)
    return (owner_id, own_id) if owner_id is not None and own_id is not None else None


class ServiceView(BaseModelView):
    """A model view over a feature's service: subclasses implement the reads (`find_all`, `count`, `find_by_pk`) with
    the service's listing and getters, and their changes with `save` (forms) or `act` (actions), which call the
    service through `perform`, giving it the signed-in administrator's `Audit`. Nothing here touches a table."""

    exporters: ClassVar[Sequence[Any]] = []  # type: ignore[misc]
    importers: ClassVar[Sequence[Any]] = []  # type: ignore[misc]
    page_size = 25
    page_size_options: ClassVar[Sequence[int]] = [25, 50, 100]  # type: ignore[misc]
    search_auto_submit = False
    # Views whose service searches nothing by text say `list_template = UNSEARCHED`: no search box to ignore.

    async def find_by_pks(self, request: Request, pks: list[Any]) -> Sequence[Any]:
        found = [await self.find_by_pk(request, pk) for pk in pks]
        return [item for item in found if item is not None]

    async def save[T](
        self, request: Request, name: str, target: str | None, work: Callable[[AsyncSession, Audit], Awaitable[T]]
    ) -> T:
        """A form's change through the service: refused input comes back beside its fields, any other refusal
        above the form, in the API's words."""
        try:
            return await perform(request, ConsoleAction(str(self.key), name, target), work)
        except (ValidationError, ForgeError) as exc:
            errors = field_errors(exc)
            if errors is not None:
                raise errors from exc
            flash(request, exc.detail if isinstance(exc, ForgeError) else str(exc), "error")
            raise FormValidationError({}) from exc

    async def act[T](
        self, request: Request, name: str, target: str | None, work: Callable[[AsyncSession, Audit], Awaitable[T]]
    ) -> T:
        """An action's change through the service; a refusal is the action's alert, in the API's words."""
        try:
            return await perform(request, ConsoleAction(str(self.key), name, target), work)
        except (ValidationError, ForgeError) as exc:
            raise refusal(exc) from exc
