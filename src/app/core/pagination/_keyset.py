"""Keyset pagination: a listing's order as columns, and the statement of one page in that order.

A page after a cursor is `WHERE (sort key) > (the last row's) ORDER BY sort key LIMIT size + 1`: with an index that
leads with the listing's equality filters and ends with the sort key, the database starts at the position and reads
size + 1 rows, at any depth, where an offset page reads and discards every row before it. The one row more says
whether another page follows, so the last page's `next_cursor` is null without counting anything. Rows inserted
or deleted during a walk shift no page: each row present throughout is seen exactly once.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Integer, Select, String, TypeDecorator, literal, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from app.core.pagination._cursor import InvalidCursorError, KeyValue
from app.core.pagination._params import PageParams

__all__ = ["Keyset"]

type SortColumn = InstrumentedAttribute[Any] | ColumnElement[Any]


def _encode(value: object) -> KeyValue:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | str):
        return value
    msg = f"a sort key of type {type(value).__name__} cannot go in a cursor"
    raise TypeError(msg)


def _decode(column: ColumnElement[Any], value: KeyValue) -> object:
    # Only cursors signed by this app get here: a mismatch means the listing's order changed since it was made.
    kind = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
    if isinstance(kind, DateTime) and isinstance(value, str):
        try:
            decoded = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidCursorError from None
        if decoded.tzinfo is not None:
            return decoded
    elif (isinstance(kind, Integer) and isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(kind, String) and isinstance(value, str)
    ):
        return value
    raise InvalidCursorError


class Keyset:
    """A listing's order: columns that together are unique (the last is the primary key), all ascending or all
    descending, read from the rows by their attribute names (`column.key`)."""

    def __init__(self, *columns: SortColumn, descending: bool = False) -> None:
        self.names = [str(column.key) for column in columns]
        self.columns: list[ColumnElement[Any]] = [
            column.expression if isinstance(column, InstrumentedAttribute) else column for column in columns
        ]
        self.descending = descending

    def page[S: Select[Any]](self, statement: S, params: PageParams) -> S:
        """`statement` ordered, from the cursor's position (or the page's offset), one row more than the page."""
        order = [column.desc() if self.descending else column.asc() for column in self.columns]
        statement = statement.order_by(*order).limit(params.size + 1)
        values = self.position(params)
        if values is not None:
            return statement.where(self._beyond(values))
        return statement.offset(params.offset) if params.offset else statement

    def position(self, params: PageParams) -> list[object] | None:
        """The cursor's sort-key values, checked against the columns' types (`InvalidCursorError`); None for a page
        by number. For a statement built once, with the position as parameters (`page` builds one per call)."""
        if params.after is None:
            return None
        if len(params.after) != len(self.columns):
            raise InvalidCursorError
        return [_decode(column, value) for column, value in zip(self.columns, params.after, strict=True)]

    def _beyond(self, values: Sequence[object]) -> ColumnElement[bool]:
        if len(self.columns) == 1:
            left, right = self.columns[0], values[0]
        else:  # a row value: PostgreSQL reads it as one index range; SQLite (3.15+) compares it too
            left = tuple_(*self.columns)
            right = tuple_(*(literal(value, column.type) for column, value in zip(self.columns, values, strict=True)))
        beyond: ColumnElement[bool] = left < right if self.descending else left > right
        return beyond

    def position_of(self, row: object) -> list[KeyValue]:
        """The sort-key values of `row` (an ORM object or a result row), as a cursor carries them."""
        return [_encode(getattr(row, name)) for name in self.names]

    def split[R](self, rows: Sequence[R], params: PageParams) -> tuple[Sequence[R], str | None]:
        """The page's rows out of the size + 1 that `page` fetched, and the next page's cursor (None on the last)."""
        if len(rows) <= params.size:
            return rows, None
        shown = rows[: params.size]
        return shown, params.cursor_after(self.position_of(shown[-1]))
