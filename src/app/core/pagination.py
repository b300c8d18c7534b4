"""Offset pagination: the `Pagination` dependency and the generic `Page[T]` response model."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Self

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict

__all__ = ["MAX_PAGE_SIZE", "Page", "PageParams", "Pagination"]

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# Deep offsets make the database walk and discard every skipped row; past this, clients should filter instead.
MAX_PAGE = 100_000


@dataclass(frozen=True, slots=True)
class PageParams:
    page: int = 1
    size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def get_pagination(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1.")] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    return PageParams(page=page, size=size)


Pagination = Annotated[PageParams, Depends(get_pagination)]


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
            pages=math.ceil(total / params.size) if total else 0,
        )
