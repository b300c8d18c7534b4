"""The list pages' "is one of" filter, for views whose service takes the chosen values (no query to build)."""

from typing import Any

from starlette_admin.filters import FilterApplyContext, FilterGroup, FilterRule
from starlette_admin.filters.enum import InFilter

__all__ = ["OneOf", "chosen"]


class OneOf(InFilter):
    """`field is one of ...` in the filter builder; the view reads the choice with `chosen` and asks its service."""

    def apply(self, ctx: FilterApplyContext) -> Any:
        return ctx.query


def chosen(filters: FilterGroup | None, field: str) -> list[str]:
    """The values the list's filter picked for `field` (the top-level rules'), or none: no filter on it."""
    values: list[str] = []
    for rule in filters.rules if filters is not None else []:
        if isinstance(rule, FilterRule) and rule.field == field:
            values.extend(str(v) for v in (rule.value if isinstance(rule.value, list | tuple) else [rule.value]))
    return values
