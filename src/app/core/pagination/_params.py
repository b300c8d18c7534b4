"""What a listing is asked for: `PageQuery`, the one reader of `?page=&size=&cursor=&include_total=`, and the
`PageParams` a listing's service receives.

Built-in routes take `Pagination`, which reads `PageQuery` from the query string (a `QueryModel`); a dynamic
endpoint, which has no signature for FastAPI to read, calls `page_params_of`, which reads it the same way. Either
way a bad value is the same 422, and so are a cursor the listing did not make and a cursor given with a page.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from app.core.context import context_of
from app.core.exceptions import FieldError, InvalidInputError
from app.core.pagination._cursor import CursorSeal, InvalidCursorError, KeyValue, listing_of
from app.core.query_models import QueryModel

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE",
    "MAX_PAGE_SIZE",
    "PageParams",
    "PageQuery",
    "Pagination",
    "cursor_seal",
    "get_pagination",
    "page_params_of",
]

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# Deep offsets make the database walk and discard every skipped row; past this, clients follow cursors instead.
MAX_PAGE = 100_000
MAX_CURSOR_LENGTH = 512  # far above any cursor made here; bounds the work of refusing a made-up one


class PageQuery(BaseModel):
    """The page a listing's query string asks for."""

    # Other query parameters are the route's own (filters), not an error of the page.
    model_config = ConfigDict(frozen=True, extra="ignore")

    page: Annotated[int, Field(ge=1, le=MAX_PAGE, description="Page number, from 1 (not with `cursor`).")] = 1
    size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")] = DEFAULT_PAGE_SIZE
    cursor: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=MAX_CURSOR_LENGTH,
            description="The `next_cursor` of the previous page, with the same path and filters: a page that costs "
            "the same at any depth (not with `page`).",
        ),
    ] = None
    include_total: Annotated[
        bool, Field(description="false: no `total` and `pages` (null), and no count of the matching rows.")
    ] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class PageParams:
    """The page a listing serves: by number (`page`, an offset), or after the position a cursor named (`after`)."""

    page: int | None = 1  # None on a cursor page: nobody counted the rows before it
    size: int = DEFAULT_PAGE_SIZE
    after: tuple[KeyValue, ...] | None = None
    include_total: bool = True
    # Signs the next page's cursor; None (a listing called from code) makes no cursors.
    seal: CursorSeal | None = field(default=None, compare=False, repr=False)

    @property
    def offset(self) -> int:
        return 0 if self.page is None else (self.page - 1) * self.size

    def pages_for(self, total: int) -> int:
        """How many pages of this size `total` items fill: the ceiling of total / size."""
        return -(-total // self.size)

    def cursor_after(self, values: Sequence[KeyValue]) -> str | None:
        """The cursor of the page after the row whose sort key is `values`."""
        return None if self.seal is None else self.seal.seal(values)


def params_of(query: PageQuery, seal: CursorSeal | None) -> PageParams:
    """The page `query` asks for; InvalidInputError (422) for a cursor given with a page or not made here."""
    if query.cursor is None:
        return PageParams(page=query.page, size=query.size, include_total=query.include_total, seal=seal)
    if "page" in query.model_fields_set:
        detail = "Give `page` or `cursor`, not both: a cursor already says where the page starts."
        raise InvalidInputError(detail, errors=[FieldError("#/page", detail, "page_with_cursor", "query")])
    if seal is None:
        raise InvalidCursorError("This listing takes no cursor.")
    return PageParams(
        page=None, size=query.size, after=seal.open(query.cursor), include_total=query.include_total, seal=seal
    )


_PAGE_QUERY = QueryModel(PageQuery)


def cursor_seal(request: Request) -> CursorSeal:
    """The cursors of the listing `request` reads: its path and its filters."""
    listing = listing_of(request.scope["path"], request.query_params.multi_items())
    return CursorSeal(context_of(request).secret_hasher, listing)


# Async: a plain `def` dependency would be run in the thread pool, a hop that costs more than the work.
async def get_pagination(query: Annotated[PageQuery, Depends(_PAGE_QUERY)], request: Request) -> PageParams:
    return params_of(query, cursor_seal(request))


Pagination = Annotated[PageParams, Depends(get_pagination)]


def page_params_of(query: Mapping[str, str], seal: CursorSeal | None = None) -> PageParams:
    """The page that `query` asks for, or the 422 that `Pagination` answers for the same query string."""
    return params_of(_PAGE_QUERY.read(query), seal)
