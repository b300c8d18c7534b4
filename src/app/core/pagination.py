"""Offset pagination: `PageParams`, the one reader of `?page=&size=`, and the generic `Page[T]` response model.

Built-in routes take `Pagination`, through which FastAPI validates the query string against `PageParams`; a dynamic
endpoint, which has no signature for FastAPI to read, calls `page_params_of` with the same model. Either way a bad
value is the same 422.
"""

from collections.abc import Mapping, Sequence
from typing import Annotated, Self

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["MAX_PAGE_SIZE", "Page", "PageParams", "Pagination", "page_params_of"]

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# Deep offsets make the database walk and discard every skipped row; past this, clients should filter instead.
MAX_PAGE = 100_000


class PageParams(BaseModel):
    """The page a listing asks for."""

    # Other query parameters are the route's own (filters), not an error of the page.
    model_config = ConfigDict(frozen=True, extra="ignore")

    page: Annotated[int, Field(ge=1, le=MAX_PAGE, description="Page number, from 1.")] = 1
    size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")] = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def pages_for(self, total: int) -> int:
        """How many pages of this size `total` items fill: the ceiling of total / size."""
        return -(-total // self.size)


async def get_pagination(params: Annotated[PageParams, Query()]) -> PageParams:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a hop that cost a page ~40 µs (issue 21).
    return params


Pagination = Annotated[PageParams, Depends(get_pagination)]


def page_params_of(query: Mapping[str, str]) -> PageParams:
    """The page that `query` asks for, or the 422 that `Pagination` answers for the same query string."""
    try:
        return PageParams.model_validate({name: query[name] for name in PageParams.model_fields if name in query})
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]) from None


class Page[T](BaseModel):
    """One page of a listing; `pages` is the number of pages for the current `total` and `size`."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    total: int
    page: int
    size: int
    pages: int

    @classmethod
    def build(cls, items: Sequence[T], *, total: int, params: PageParams) -> Self:
        return cls(
            items=list(items),
            total=total,
            page=params.page,
            size=params.size,
            pages=params.pages_for(total),
        )
