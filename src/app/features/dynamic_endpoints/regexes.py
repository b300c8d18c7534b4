"""Linear-time regular expressions (RE2) for JSON Schema's `pattern`, `patternProperties` and the
`additionalProperties` that depends on them.

jsonschema runs these keywords with Python's backtracking `re`: a pattern such as `^(a+)+$` takes seconds on a
30-character string, and an administrator's schema would then let any caller stall a worker. RE2 matches in time
linear in the input whatever the pattern; the price is that backreferences and lookaround do not exist, so such
patterns are refused when a spec is saved (`problem`). RE2's classes are those of ECMA-262, which JSON Schema
names: `\\d` is `[0-9]`, not every Unicode digit as in Python.

`unevaluatedProperties` consults `patternProperties` through jsonschema's own helper (Python `re` again), so a
schema may not combine the two (jsonschemas.check_schema refuses it).
"""

import functools
from collections.abc import Callable, Iterator
from typing import Any, cast

import re2
from jsonschema.exceptions import ValidationError

__all__ = ["KEYWORDS", "problem"]

type _Search = Callable[[str], object | None]

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is reported to the client, not printed on stderr


@functools.lru_cache(maxsize=2048)
def _search(pattern: str) -> _Search:
    return cast("_Search", re2.compile(pattern, _OPTIONS).search)


def problem(pattern: str) -> str | None:
    """Why RE2 cannot run `pattern` (None when it can)."""
    try:
        _search(pattern)
    except re2.error:
        return "is not supported by the linear-time regex engine (RE2): no backreferences or lookaround"
    return None


def _pattern(validator: Any, pattern: str, instance: Any, _schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and _search(pattern)(instance) is None:
        yield ValidationError("does not match the pattern")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, _schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        search = _search(pattern)
        for key, value in instance.items():
            if search(key) is not None:
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    searches = [_search(pattern) for pattern in schema.get("patternProperties", {})]
    extras = [key for key in instance if key not in properties and all(s(key) is None for s in searches)]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif additional is False and extras:
        yield ValidationError("Additional properties are not allowed")


KEYWORDS: dict[str, Callable[..., Iterator[ValidationError]]] = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
}
