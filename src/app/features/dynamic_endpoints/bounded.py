"""A bounded cost for validating any document against any stored schema.

jsonschema's validation cost is not bounded by the document's size: `uniqueItems` compares every pair of items
(5,000 small objects took 26 s), `unevaluatedItems`/`unevaluatedProperties` test membership in lists (quadratic
again), and a schema that applies several subschemas to one value through references (`allOf` of two `$ref`s to a
definition that does the same, 30 levels down) multiplies its work at every level, as does one that recurses
through the value (`properties` to `$ref: "#"`) under such a fan-out.

Two measures, each bounding what the other cannot:

- the quadratic keywords are replaced by linear ones (`KEYWORDS`): `uniqueItems` hashes a canonical form of each
  item (JSON Schema's equality: `1 == 1.0`, `true != 1`, key order does not matter), the `unevaluated*` keywords
  collect what was evaluated in a set;
- every keyword call is charged to a step budget (`metered`, `budget`): one step, plus the width of the value it
  loops over (items or properties of the instance, entries of the keyword's own value, nodes hashed or compared).
  A validation that would spend more than its budget stops with `Exhausted`, whatever the schema: the cost is
  bounded by construction, not by trying to foresee every expensive combination of keywords.

The budget is carried in a context variable, so one compiled validator serves every request (and a worker
thread) with a budget of its own.
"""

from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jsonschema import _utils as jsonschema_utils
from jsonschema.exceptions import ValidationError

__all__ = ["KEYWORDS", "Exhausted", "budget", "metered"]

type Keyword = Callable[..., Iterator[ValidationError]]

# Strings are scanned (patterns by RE2, formats) in time linear in their length: one step per this many characters.
_CHARS_PER_STEP = 64
# Comparing one node of JSON data (jsonschema's `equal`) costs a fraction of a keyword call: measured here, a
# 2,600-node `enum` checked 300 times took 0.1 s, where 780,000 keyword calls take about 2 s.
_NODES_PER_STEP = 4
# Keywords whose value is data, compared or looked up entry by entry, rather than subschemas reached by `descend`.
_DATA_KEYWORDS = frozenset({"enum", "const", "dependentRequired"})


class Exhausted(Exception):  # noqa: N818 - a signal that the budget ran out, not an error of the caller
    """The validation spent its step budget."""


class _Meter:
    __slots__ = ("left",)

    def __init__(self, steps: int) -> None:
        self.left = steps

    def charge(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise Exhausted


_METER: ContextVar[_Meter | None] = ContextVar("forge_schema_validation_meter", default=None)


@contextmanager
def budget(steps: int) -> Iterator[None]:
    """Validations inside the block may spend `steps` in all; beyond, the keyword that overspends raises
    `Exhausted`. Outside any block, validation is not metered (schemas of specs, checked at save time)."""
    token = _METER.set(_Meter(steps))
    try:
        yield
    finally:
        _METER.reset(token)


def _charge(steps: int) -> None:
    if (meter := _METER.get()) is not None:
        meter.charge(steps)


def _nodes(value: Any) -> int:
    count, stack = 0, [value]
    while stack:
        current = stack.pop()
        count += 1
        if isinstance(current, dict):
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return count


def _width(value: Any) -> int:
    if isinstance(value, dict | list):
        return len(value)
    if isinstance(value, str):
        return len(value) // _CHARS_PER_STEP
    return 0


def _cost(keyword: str, value: Any, instance: Any, schema: Any) -> int:
    """An upper bound, in steps, of what one call of `keyword` does besides its own `descend`s (charged apart)."""
    width = _width(instance)
    if keyword in _DATA_KEYWORDS:  # comparing with each entry costs at most the entry's size
        return 1 + width + _nodes(value) // _NODES_PER_STEP
    if keyword == "patternProperties" and isinstance(value, dict):  # each pattern against each key
        return 1 + width * (1 + len(value))
    if keyword == "additionalProperties" and isinstance(schema, dict):  # each key against each pattern
        return 1 + width * (1 + len(schema.get("patternProperties") or ()))
    return 1 + width + _width(value)


def metered(keywords: Mapping[str, Keyword]) -> dict[str, Keyword]:
    """The same keywords, each charging its cost to the current budget before it runs."""

    def wrap(keyword: str, function: Keyword) -> Keyword:
        def run(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
            _charge(_cost(keyword, value, instance, schema))
            yield from function(validator, value, instance, schema)

        return run

    return {keyword: wrap(keyword, function) for keyword, function in keywords.items()}


def _canonical(value: Any, visited: list[int]) -> Hashable:
    """A hashable form equal for exactly the values JSON Schema calls equal (`visited[0]` counts the nodes)."""
    visited[0] += 1
    if isinstance(value, bool):  # before numbers: True is an int in Python, never a number in JSON
        return ("b", value)
    if isinstance(value, int | float):  # 1 == 1.0, with equal hashes
        return ("n", value)
    if isinstance(value, list):
        return ("a", tuple(_canonical(item, visited) for item in value))
    if isinstance(value, dict):
        return ("o", frozenset((key, _canonical(item, visited)) for key, item in value.items()))
    return ("s", value)  # a string or None: distinct types never compare equal


def _unique_items(validator: Any, unique: Any, instance: Any, _schema: Any) -> Iterator[ValidationError]:
    if not unique or not validator.is_type(instance, "array") or len(instance) < 2:  # noqa: PLR2004
        return
    visited = [0]
    seen: set[Hashable] = set()
    for item in instance:
        key = _canonical(item, visited)
        if key in seen:
            break
        seen.add(key)
    _charge(visited[0])  # after the fact: one pass over a document that is itself bounded in size
    if len(seen) < len(instance):
        yield ValidationError("has non-unique elements")


def _unevaluated_items(validator: Any, _unevaluated: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "array"):
        return
    found = jsonschema_utils.find_evaluated_item_indexes_by_schema(validator, instance, schema)
    _charge(len(found))
    evaluated = set(found)
    if any(index not in evaluated for index in range(len(instance))):
        yield ValidationError("Unevaluated items are not allowed")


def _unevaluated_properties(validator: Any, unevaluated: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    found = jsonschema_utils.find_evaluated_property_keys_by_schema(validator, instance, schema)
    _charge(len(found))
    evaluated = set(found)
    invalid = False
    for key, value in instance.items():
        if key not in evaluated:
            invalid = next(validator.descend(value, unevaluated, path=key, schema_path=key), None) is not None
            if invalid:
                break
    if invalid:
        yield ValidationError("Unevaluated properties are not allowed")


# jsonschema's own versions of these are quadratic (pairwise `equal`, `in` on lists). The `unevaluated*` ones reuse
# jsonschema's walk of what a schema evaluates: a private helper, so an upgrade that moves it fails the import (and
# the tests in tests/features/dynamic_endpoints/test_bounded_validation.py).
KEYWORDS: dict[str, Keyword] = {
    "uniqueItems": _unique_items,
    "unevaluatedItems": _unevaluated_items,
    "unevaluatedProperties": _unevaluated_properties,
}
