"""What features contribute to the admins' dashboard, without the dashboard naming them.

A feature writes a `DailySource`: given a session and the first moment of the dashboard's window, it returns its
series per UTC day (`DailyCounts`, `DailyAmounts`). `main.py` lists the app's sources in a `DashboardSources`
component, and the dashboard feature collects whatever is listed: a feature that a project leaves out (the example
orders) takes its series with it, and no other code changes. `utc_day` is the SQL that groups by such a day on
SQLite and PostgreSQL alike.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Date
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

__all__ = ["DailyAmounts", "DailyCounts", "DailySource", "DashboardSources", "utc_day"]


@dataclass(frozen=True, slots=True)
class DailyCounts:
    """How many of something per day (`orders`): days left out had none."""

    name: str
    values: Mapping[date, int]


@dataclass(frozen=True, slots=True)
class DailyAmounts:
    """Money per day (`revenue`), exact: days left out had none."""

    name: str
    values: Mapping[date, Decimal]


class DailySource(Protocol):
    async def __call__(self, session: AsyncSession, *, since: datetime) -> Sequence[DailyCounts | DailyAmounts]:
        """The source's series for the UTC days from `since` (midnight UTC) to now."""
        ...


@dataclass(frozen=True, slots=True)
class DashboardSources:
    """The daily series sources of the app's features (a component of the app's context)."""

    daily: tuple[DailySource, ...] = ()


class utc_day(FunctionElement[date]):  # noqa: N801 - used as an SQL function, named like one
    """The UTC calendar day of a UTCDateTime column, as SQL; a `date` in Python.

    SQLite stores those datetimes as naive UTC text, whose `date()` is the day; PostgreSQL stores timestamptz, whose
    day depends on the session's time zone unless it is taken in UTC explicitly.
    """

    type = Date()
    inherit_cache = True
    name = "utc_day"

    def __init__(self, column: ColumnElement[datetime] | QueryableAttribute[datetime]) -> None:
        super().__init__(column)


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC' AS DATE)"


@compiles(utc_day)
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"
