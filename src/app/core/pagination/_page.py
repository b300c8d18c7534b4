"""The generic `Page[T]` a listing answers."""

from collections.abc import Sequence
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from app.core.pagination._params import PageParams

__all__ = ["Page"]


class Page[T](BaseModel):
    """One page of a listing; `pages` is the number of pages for the current `total` and `size`."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    total: int | None = Field(description="Matching items; null with `include_total=false`.")
    page: int | None = Field(description="The page's number; null on a page read by `cursor`.")
    size: int
    pages: int | None = Field(description="Pages of this size that `total` fills; null without the total.")
    next_cursor: str | None = Field(
        default=None, description="Pass it as `cursor` (same path and filters) for the next page; null on the last."
    )

    @classmethod
    def build(
        cls, items: Sequence[T], *, total: int | None, params: PageParams, next_cursor: str | None = None
    ) -> Self:
        return cls(
            items=list(items),
            total=total,
            page=params.page,
            size=params.size,
            pages=None if total is None else params.pages_for(total),
            next_cursor=next_cursor,
        )
