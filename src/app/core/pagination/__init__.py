"""Pagination: by page number (`?page=&size=`, an offset) or by cursor (`?cursor=`, keyset), and `Page[T]`.

- `_params`: `PageQuery` (the query string's model), `PageParams` (what a listing's service receives), the
  `Pagination` dependency and `page_params_of` for dynamic endpoints.
- `_cursor`: the signed, listing-bound cursor (`CursorSeal`) and its 422, `InvalidCursorError`.
- `_keyset`: `Keyset`, a listing's order, which builds the page's statement and the next cursor.
- `_page`: the `Page[T]` answer, with `next_cursor`.
"""

from app.core.pagination._cursor import PAGE_PARAMETERS, CursorSeal, InvalidCursorError, KeyValue, listing_of
from app.core.pagination._keyset import Keyset
from app.core.pagination._page import Page
from app.core.pagination._params import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    PageParams,
    PageQuery,
    Pagination,
    cursor_seal,
    get_pagination,
    page_params_of,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE",
    "MAX_PAGE_SIZE",
    "PAGE_PARAMETERS",
    "CursorSeal",
    "InvalidCursorError",
    "KeyValue",
    "Keyset",
    "Page",
    "PageParams",
    "PageQuery",
    "Pagination",
    "cursor_seal",
    "get_pagination",
    "listing_of",
    "page_params_of",
]
