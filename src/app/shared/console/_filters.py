"""The list pages' filters, for views whose service takes the chosen values (no query to build): starlette-admin
parses and validates each rule of its filter builder, and the view reads the values (`chosen`, `rules_of`) and asks
its service, as the API's query parameters would."""

from typing import Any

from starlette.exceptions import HTTPException
from starlette.status import HTTP_400_BAD_REQUEST
from starlette_admin.filters import FilterApplyContext, FilterGroup, FilterRule
from starlette_admin.filters.date import DateTimeBetweenFilter
from starlette_admin.filters.enum import InFilter
from starlette_admin.filters.generic import EqualFilter
from starlette_admin.filters.numeric import EqualFilter as NumberEqualFilter

__all__ = ["Between", "NumberIs", "OneOf", "TextIs", "chosen", "rules_of"]


class _ServiceFilter:
    """A filter the view's service applies: nothing to add to a query here."""

    def apply(self, ctx: FilterApplyContext) -> Any:
        return ctx.query


class OneOf(_ServiceFilter, InFilter):
    """`field is one of ...` in the filter builder; the view reads the choice with `chosen` and asks its service."""


class TextIs(_ServiceFilter, EqualFilter):
    """`field is <text>`, exactly."""


class NumberIs(_ServiceFilter, NumberEqualFilter):
    """`field is <number>`."""


class Between(_ServiceFilter, DateTimeBetweenFilter):
    """`from <= field <= to`, two times picked in the browser (read as UTC)."""


def chosen(filters: FilterGroup | None, field: str) -> list[str]:
    """The values the list's filter picked for `field` (the top-level rules'), or none: no filter on it."""
    values: list[str] = []
    for rule in filters.rules if filters is not None else []:
        if isinstance(rule, FilterRule) and rule.field == field:
            values.extend(str(v) for v in (rule.value if isinstance(rule.value, list | tuple) else [rule.value]))
    return values


def rules_of(filters: FilterGroup | None) -> dict[str, FilterRule]:
    """The list's filter rules by field, all of which must hold, as a listing's query parameters all do. The builder
    also makes OR groups, nested groups and two rules on one field, which a service's filters cannot say: refused
    (400) rather than answered with rows that do not match."""
    if filters is None or filters.is_empty():
        return {}
    refused = "The console filters by every rule at once (AND), one rule per field."
    if filters.logic != "and" and len(filters.rules) > 1:
        raise HTTPException(HTTP_400_BAD_REQUEST, refused)
    rules: dict[str, FilterRule] = {}
    for rule in filters.rules:
        if not isinstance(rule, FilterRule) or rule.field in rules:
            raise HTTPException(HTTP_400_BAD_REQUEST, refused)
        rules[rule.field] = rule
    return rules
