"""JSON Schema (Draft 2020-12) for dynamic endpoints: strict checks of a spec's schemas, and validation of
documents against them, reported as problem `errors` with JSON pointers.

A schema is refused when it is not valid Draft 2020-12, is larger than `MAX_SCHEMA_BYTES` serialized or deeper
than `MAX_DEPTH`, names another draft in `$schema`, or has a `$ref`/`$dynamicRef` that is not local (`#...`) or
does not resolve inside the schema: no schema ever makes the service fetch anything. Nor may a schema make
validation fail to end or crash: `$id`/`$schema` below the root (they change how references resolve), references
that apply a schema to the same value forever (`{"$defs": {"a": {"$ref": "#/$defs/a"}}}`) or chain more than
`MAX_DEPTH` times, and patterns the linear-time engine cannot run (regexes.py) are refused too. Documents are
bounded like schemas, and a validation that still runs out of stack is reported as a violation, never a crash.
Messages never repeat the rejected value (only the schema's own keywords), as for every other 422.
"""

from collections.abc import Iterator
from functools import partial
from typing import Any

import orjson
from anyio import to_thread
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from app.core.exceptions import FieldError
from app.core.input import NUL_MESSAGE
from app.features.dynamic_endpoints import bounded, regexes

__all__ = [
    "MAX_DEPTH",
    "MAX_ERRORS",
    "MAX_FANOUT",
    "MAX_SCHEMA_BYTES",
    "MAX_STEPS",
    "Validator",
    "check_json_value",
    "check_schema",
    "compile_validator",
    "escape_pointer",
    "instance_errors",
    "instance_errors_bounded",
    "is_valid",
    "local_target",
    "shown",
]

MAX_SCHEMA_BYTES = 64 * 1024
MAX_DEPTH = 32
MAX_ERRORS = 50
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
_REF_KEYWORDS = ("$ref", "$dynamicRef")
# With the format checker, as `check_schema` does: a `pattern` that is not a valid regex is refused here, not at
# the first request that meets it.
_META = Draft202012Validator(Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
# Draft 2020-12 with the regex keywords run by RE2 (linear time) instead of Python's backtracking `re`, the
# quadratic keywords replaced by linear ones, and every keyword charged to the validation's step budget.
_LinearValidator: type[Validator] = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    validators=bounded.metered({**Draft202012Validator.VALIDATORS, **regexes.KEYWORDS, **bounded.KEYWORDS}),
)
# The step budget of one validation (bounded.py). A 64 KiB body of 5,000 small objects checked item by item against
# a few keywords each costs about 100,000 steps; a step is 1-3 µs of jsonschema's time here.
MAX_STEPS = 400_000
# Validations start on the event loop with this much of the budget (a few milliseconds); one that needs more
# starts over in a worker thread with the whole budget, so the loop never runs one for longer than this.
INLINE_STEPS = 5_000
# At most this many subschemas (with multiplicity, following references) applied to any one value: beyond, one
# value costs a schema that is exponential in its own size (`allOf` of two references, each doing the same, ...).
MAX_FANOUT = 1_000
# Keywords that apply their subschemas to the very value their schema applies to (not to a part of it): a cycle
# through them and references never ends.
_SAME_VALUE_LISTS = ("allOf", "anyOf", "oneOf")
_SAME_VALUE_ONE = ("not", "if", "then", "else")


def escape_pointer(token: str | int) -> str:
    """One RFC 6901 reference token: `~` is `~0`, `/` is `~1`."""
    return str(token).replace("~", "~0").replace("/", "~1")


def _pointer(base: str, path: Iterator[str | int] | list[str | int]) -> str:
    tokens = "/".join(escape_pointer(token) for token in path)
    if not tokens:
        return base
    return f"{base}/{tokens}" if base != "#" else f"#/{tokens}"


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(current, dict):
            stack.extend((item, depth + 1) for item in current.values())
        elif isinstance(current, list):
            stack.extend((item, depth + 1) for item in current)
    return False


def check_json_value(value: Any, *, pointer: str) -> list[FieldError]:
    """Size and depth bounds for any stored JSON value (schemas, examples and documents)."""
    if _depth_exceeds(value, MAX_DEPTH):  # first: orjson cannot serialize a value nested beyond 254 levels
        return [FieldError(pointer=pointer, message=f"nested deeper than {MAX_DEPTH} levels", code="too_deep")]
    try:
        serialized = orjson.dumps(value)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: Python parses it, orjson (and clients) cannot
        return [FieldError(pointer=pointer, message="contains an integer outside the 64-bit range", code="range")]
    if len(serialized) > MAX_SCHEMA_BYTES:
        return [FieldError(pointer=pointer, message=f"larger than {MAX_SCHEMA_BYTES} bytes", code="too_large")]
    if b"\\u0000" in serialized:  # orjson writes NUL so (and a text "\\u0000" too: the walk tells them apart)
        return _nul_errors(value, pointer)
    return []


def _nul_errors(value: Any, pointer: str) -> list[FieldError]:
    """Where `value` holds a NUL character, in a string or a key: PostgreSQL's JSON types cannot store one, SQLite's
    can, so it is refused on both (as in every other text field, core/input.py)."""
    for path, item in _walk(value, []):
        keys = list(item) if isinstance(item, dict) else []
        for text, at in [(item, path)] + [(key, [*path, key]) for key in keys]:
            if isinstance(text, str) and "\x00" in text:
                return [FieldError(pointer=_pointer(pointer, at), message=NUL_MESSAGE, code="string_nul")]
    return []


def _walk(value: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, [*path, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, [*path, index])


type _Path = tuple[str | int, ...]


def _target(schema: Any, fragment: str, anchors: dict[str, _Path]) -> _Path | None:
    """Where a local reference's fragment (after `#`) points, as a path into `schema`; None if nowhere."""
    if not fragment:
        return ()
    if not fragment.startswith("/"):
        return anchors.get(fragment)
    target, path = schema, list[str | int]()
    step: str | int
    for raw in fragment[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and token in target:
            target, step = target[token], token
        elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
            target, step = target[int(token)], int(token)
        else:
            return None
        path.append(step)
    return tuple(path)


def local_target(schema: Any, ref: str) -> Any | None:
    """The subschema a local reference (`#...`) of `schema` names; None when it names none."""
    if not ref.startswith("#"):
        return None
    nodes = {tuple(path): node for path, node in _walk(schema, []) if isinstance(node, dict)}
    path = _target(schema, ref[1:], _anchors(nodes))
    if path is None:
        return None
    target = schema
    for step in path:
        target = target[step]
    return target


def _anchors(nodes: dict[_Path, dict[str, Any]]) -> dict[str, _Path]:
    found: dict[str, _Path] = {}
    for path, node in nodes.items():
        for key in ("$anchor", "$dynamicAnchor"):
            if isinstance(name := node.get(key), str):
                found.setdefault(name, path)
    return found


def _reference_errors(schema: dict[str, Any], pointer: str, nodes: dict[_Path, dict[str, Any]]) -> list[FieldError]:
    anchors = _anchors(nodes)
    errors: list[FieldError] = []
    for path, node in nodes.items():
        for keyword in ("$id", "$schema"):
            if path and keyword in node:
                message = f"only the root schema may have {keyword}: below it, it changes how references resolve"
                errors.append(FieldError(pointer=_pointer(pointer, [*path, keyword]), message=message, code="ref"))
        for keyword in _REF_KEYWORDS:
            ref = node.get(keyword)
            if not isinstance(ref, str):
                continue
            at = _pointer(pointer, [*path, keyword])
            if not ref.startswith("#"):
                errors.append(FieldError(pointer=at, message="only local references (#...) are allowed", code="ref"))
            elif _target(schema, ref[1:], anchors) is None:
                errors.append(FieldError(pointer=at, message="the reference does not resolve", code="ref"))
    return errors


def _same_value_edges(
    schema: Any, path: _Path, node: dict[str, Any], anchors: dict[str, _Path]
) -> list[tuple[_Path, str | None]]:
    """The subschemas applied to the value `node` applies to, each with the reference keyword that leads there."""
    edges: list[tuple[_Path, str | None]] = []
    for keyword in _REF_KEYWORDS:
        if isinstance(ref := node.get(keyword), str) and (target := _target(schema, ref[1:], anchors)) is not None:
            edges.append((target, keyword))
    for keyword in _SAME_VALUE_LISTS:
        if isinstance(items := node.get(keyword), list):
            edges += [((*path, keyword, index), None) for index in range(len(items))]
    edges += [((*path, keyword), None) for keyword in _SAME_VALUE_ONE if keyword in node]
    if isinstance(dependent := node.get("dependentSchemas"), dict):
        edges += [((*path, "dependentSchemas", key), None) for key in dependent]
    return edges


def _cycle_errors(schema: dict[str, Any], pointer: str, nodes: dict[_Path, dict[str, Any]]) -> list[FieldError]:
    """Refuse references that never end, chain deeper than MAX_DEPTH or fan out to more than MAX_FANOUT
    subschemas, on one value (iterative: no recursion)."""
    anchors = _anchors(nodes)
    edges = {
        path: [e for e in _same_value_edges(schema, path, node, anchors) if e[0] in nodes]
        for path, node in nodes.items()
    }
    done: dict[_Path, int] = {}  # path -> the longest chain of references from there
    fanout: dict[_Path, int] = {}  # path -> how many subschemas apply to the value from there, itself included
    for start in nodes:
        if start in done:
            continue
        stack: list[tuple[_Path, Iterator[tuple[_Path, str | None]]]] = [(start, iter(edges[start]))]
        on_stack = {start}
        while stack:
            path, pending = stack[-1]
            for target, keyword in pending:
                if target in on_stack:
                    at = _pointer(pointer, [*path, keyword] if keyword else list(path))
                    return [FieldError(pointer=at, message="the reference is cyclic: it never ends", code="ref")]
                if target not in done:
                    stack.append((target, iter(edges[target])))
                    on_stack.add(target)
                    break
            else:
                stack.pop()
                on_stack.discard(path)
                done[path] = max((done[t] + (k is not None) for t, k in edges[path]), default=0)
                if done[path] > MAX_DEPTH:
                    message = f"references chain more than {MAX_DEPTH} times"
                    return [FieldError(pointer=_pointer(pointer, list(path)), message=message, code="ref")]
                fanout[path] = 1 + sum(fanout[t] for t, _ in edges[path])
                if fanout[path] > MAX_FANOUT:
                    message = f"applies more than {MAX_FANOUT} subschemas to one value (through references)"
                    return [FieldError(pointer=_pointer(pointer, list(path)), message=message, code="too_complex")]
    return []


def _pattern_errors(pointer: str, nodes: dict[_Path, dict[str, Any]]) -> list[FieldError]:
    errors: list[FieldError] = []
    unevaluated = any("unevaluatedProperties" in node for node in nodes.values())
    for path, node in nodes.items():
        if isinstance(pattern := node.get("pattern"), str) and (problem := regexes.problem(pattern)) is not None:
            errors.append(FieldError(pointer=_pointer(pointer, [*path, "pattern"]), message=problem, code="pattern"))
        if not isinstance(properties := node.get("patternProperties"), dict):
            continue
        if unevaluated:
            message = "cannot be combined with unevaluatedProperties in one schema"
            errors.append(
                FieldError(pointer=_pointer(pointer, [*path, "patternProperties"]), message=message, code="pattern")
            )
        for key in properties:
            if (problem := regexes.problem(key)) is not None:
                at = _pointer(pointer, [*path, "patternProperties", key])
                errors.append(FieldError(pointer=at, message=problem, code="pattern"))
    return errors


def check_schema(schema: Any, *, pointer: str) -> list[FieldError]:
    """Every reason `schema` cannot be used; empty when it can."""
    if not isinstance(schema, dict):
        return [FieldError(pointer=pointer, message="must be a JSON Schema object", code="type")]
    if errors := check_json_value(schema, pointer=pointer):
        return errors
    declared = schema.get("$schema")
    if declared is not None and (not isinstance(declared, str) or declared.rstrip("#") != DRAFT_2020_12):
        message = f"only Draft 2020-12 ({DRAFT_2020_12}) is supported"
        return [FieldError(pointer=_pointer(pointer, ["$schema"]), message=message, code="draft")]
    errors = [
        FieldError(pointer=_pointer(pointer, list(error.absolute_path)), message=_describe(error), code="schema")
        for error in sorted(_META.iter_errors(schema), key=lambda e: list(map(str, e.absolute_path)))[:MAX_ERRORS]
    ]
    if errors:
        return errors
    nodes = {tuple(path): node for path, node in _walk(schema, []) if isinstance(node, dict)}
    errors = _reference_errors(schema, pointer, nodes) + _pattern_errors(pointer, nodes)
    return errors or _cycle_errors(schema, pointer, nodes)


def compile_validator(schema: dict[str, Any]) -> Validator:
    """A validator for a schema that passed `check_schema` (formats are asserted, not just annotations)."""
    return _LinearValidator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def shown(value: Any) -> str:
    """`value` as compact JSON, cut at 80 characters."""
    text = orjson.dumps(value).decode()
    return text if len(text) <= 80 else text[:77] + "..."  # noqa: PLR2004


def _describe(error: ValidationError) -> str:
    """What the value fails, in the schema's terms: never the value itself (it may be a secret)."""
    keyword = str(error.validator)
    if keyword == "required":
        return str(error.message)  # "'name' is a required property": the name comes from the schema
    if keyword == "type":
        return f"must be of type {shown(error.validator_value)}"
    if keyword in ("additionalProperties", "unevaluatedProperties"):
        return "has properties the schema does not allow"
    if keyword in ("enum", "const"):
        return "is not one of the values the schema allows"
    if keyword == "format":
        return f"is not a valid {error.validator_value}"
    return f"fails {keyword}: {shown(error.validator_value)}"


_TOO_DEEP = "nests too deeply for the schema to be checked"
_TOO_COMPLEX = "is too costly to check against the schema"


def _errors(validator: Validator, instance: Any, steps: int) -> list[FieldError] | None:
    """The violations of `instance` in document order; None when checking it costs more than `steps`."""
    try:
        with bounded.budget(steps):
            found = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
    except bounded.Exhausted:
        return None
    except RecursionError:  # bounded documents and checked schemas make it unlikely; it is never a crash
        return [FieldError(pointer="#", message=_TOO_DEEP, code="too_deep")]
    return [
        FieldError(pointer=_pointer("#", list(e.absolute_path)), message=_describe(e), code=str(e.validator))
        for e in found[:MAX_ERRORS]
    ]


def _too_complex() -> list[FieldError]:
    return [FieldError(pointer="#", message=_TOO_COMPLEX, code="too_complex")]


def is_valid(validator: Validator, instance: Any) -> bool:
    """Whether `instance` satisfies the schema; a document too costly to check (MAX_STEPS) does not."""
    try:
        with bounded.budget(MAX_STEPS):
            return validator.is_valid(instance)
    except (RecursionError, bounded.Exhausted):
        return False


def instance_errors(validator: Validator, instance: Any) -> list[FieldError]:
    """The violations of `instance`, each at the JSON pointer of the offending value, in document order; a
    document that costs more than MAX_STEPS to check is one violation at `#` (`too_complex`)."""
    errors = _errors(validator, instance, MAX_STEPS)
    return _too_complex() if errors is None else errors


async def instance_errors_bounded(validator: Validator, instance: Any) -> list[FieldError]:
    """`instance_errors` without holding the event loop for more than INLINE_STEPS: a validation that needs more
    starts over in a worker thread (which then competes for the GIL, handing the loop its turn every few ms)."""
    errors = _errors(validator, instance, INLINE_STEPS)
    if errors is None:
        errors = await to_thread.run_sync(partial(_errors, validator, instance, MAX_STEPS))
    return _too_complex() if errors is None else errors
