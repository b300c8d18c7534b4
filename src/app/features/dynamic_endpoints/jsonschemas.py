"""JSON Schema (Draft 2020-12) for dynamic endpoints: strict checks of a spec's schemas, and validation of
documents against them, reported as problem `errors` with JSON pointers.

A schema is refused when it is not valid Draft 2020-12, is larger than `MAX_SCHEMA_BYTES` serialized or deeper
than `MAX_DEPTH`, names another draft in `$schema`, or has a `$ref`/`$dynamicRef` that is not local (`#...`) or
does not resolve inside the schema: no schema ever makes the service fetch anything. Messages never repeat the
rejected value (only the schema's own keywords), as for every other 422.
"""

from collections.abc import Iterator
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from app.core.exceptions import FieldError

__all__ = [
    "MAX_DEPTH",
    "MAX_ERRORS",
    "MAX_SCHEMA_BYTES",
    "Validator",
    "check_json_value",
    "check_schema",
    "compile_validator",
    "escape_pointer",
    "instance_errors",
]

MAX_SCHEMA_BYTES = 64 * 1024
MAX_DEPTH = 32
MAX_ERRORS = 50
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
_REF_KEYWORDS = ("$ref", "$dynamicRef")
# With the format checker, as `check_schema` does: a `pattern` that is not a valid regex is refused here, not at
# the first request that meets it.
_META = Draft202012Validator(Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)

type Validator = Draft202012Validator


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
    """Size and depth bounds for any stored JSON value (schemas and examples)."""
    try:
        serialized = orjson.dumps(value)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: Python parses it, orjson (and clients) cannot
        return [FieldError(pointer=pointer, message="contains an integer outside the 64-bit range", code="range")]
    if len(serialized) > MAX_SCHEMA_BYTES:
        return [FieldError(pointer=pointer, message=f"larger than {MAX_SCHEMA_BYTES} bytes", code="too_large")]
    if _depth_exceeds(value, MAX_DEPTH):
        return [FieldError(pointer=pointer, message=f"nested deeper than {MAX_DEPTH} levels", code="too_deep")]
    return []


def _walk(value: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, [*path, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, [*path, index])


def _resolves(schema: Any, fragment: str, anchors: set[str]) -> bool:
    if not fragment:
        return True
    if not fragment.startswith("/"):
        return fragment in anchors
    target = schema
    for raw in fragment[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and token in target:
            target = target[token]
        elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
            target = target[int(token)]
        else:
            return False
    return True


def _reference_errors(schema: dict[str, Any], pointer: str) -> list[FieldError]:
    nodes = [(path, node) for path, node in _walk(schema, []) if isinstance(node, dict)]
    anchors = {
        node[key] for _, node in nodes for key in ("$anchor", "$dynamicAnchor") if isinstance(node.get(key), str)
    }
    errors: list[FieldError] = []
    for path, node in nodes:
        for keyword in _REF_KEYWORDS:
            ref = node.get(keyword)
            if not isinstance(ref, str):
                continue
            at = _pointer(pointer, [*path, keyword])
            if not ref.startswith("#"):
                errors.append(FieldError(pointer=at, message="only local references (#...) are allowed", code="ref"))
            elif not _resolves(schema, ref[1:], anchors):
                errors.append(FieldError(pointer=at, message="the reference does not resolve", code="ref"))
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
    return errors or _reference_errors(schema, pointer)


def compile_validator(schema: dict[str, Any]) -> Validator:
    """A validator for a schema that passed `check_schema` (formats are asserted, not just annotations)."""
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _shown(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 80 else text[:77] + "..."  # noqa: PLR2004


def _describe(error: ValidationError) -> str:
    """What the value fails, in the schema's terms: never the value itself (it may be a secret)."""
    keyword = str(error.validator)
    if keyword == "required":
        return str(error.message)  # "'name' is a required property": the name comes from the schema
    if keyword == "type":
        return f"must be of type {_shown(error.validator_value)}"
    if keyword in ("additionalProperties", "unevaluatedProperties"):
        return "has properties the schema does not allow"
    if keyword in ("enum", "const"):
        return "is not one of the values the schema allows"
    if keyword == "format":
        return f"is not a valid {error.validator_value}"
    return f"fails {keyword}: {_shown(error.validator_value)}"


def instance_errors(validator: Validator, instance: Any) -> list[FieldError]:
    """The violations of `instance`, each at the JSON pointer of the offending value, in document order."""
    found = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
    return [
        FieldError(pointer=_pointer("#", list(e.absolute_path)), message=_describe(e), code=str(e.validator))
        for e in found[:MAX_ERRORS]
    ]
