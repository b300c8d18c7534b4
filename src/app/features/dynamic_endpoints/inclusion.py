"""Does a collection's `response_schema` accept every document its `request_schema` lets in?

A collection answers `{...document, "id": n}` for a document that passed `request_schema`; when `response_schema`
refuses one of those, every write of such a document is a 500. Whether one JSON Schema accepts everything another
does is undecidable in general, so the question is answered soundly in two steps and never guessed:

1. **Proof** (`included`): a structural comparison of the common shapes: `response_schema` absent, `true` or
   annotations only; keyword by keyword, each assertion of the response side is implied by one at least as tight on
   the request side (`type`, `required`, `properties`, `additionalProperties`, numeric and length bounds; `pattern`,
   `format`, `enum`, `const`, `multipleOf`, `uniqueItems` only when equal); identical subschemas without
   references. Anything else (references, `allOf`/`anyOf`/`oneOf`/`not`/`if`, `patternProperties`, ...) is not
   proved, which is not the same as refused.
2. **Probe** (`counterexample`): documents built from `request_schema`'s structure (its bounds, formats, enums,
   examples and branches, one property varied at a time) and kept only when `request_schema` really accepts them;
   the first that `response_schema` refuses, once given its `id`, proves the two disagree. Probing is bounded (the
   number of documents and the validation step budget), deterministic, and cannot refuse a good pair; it can miss a
   bad one, which is then caught on read (a 500 `stored-document-invalid` naming the endpoint).
"""

from collections.abc import Iterator
from itertools import islice
from typing import Any, NamedTuple

import orjson

from app.core.exceptions import FieldError
from app.core.identifiers import MAX_ID
from app.features.dynamic_endpoints import bounded, jsonschemas

__all__ = ["ID_SCHEMA", "Counterexample", "check", "counterexample", "included", "served_schema"]

# What the server adds to every answered document: the row's id.
ID_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
# Probing: candidate values kept per subschema, documents tried in all, subschemas visited, references followed,
# and the longest string or array built (a body is at most 64 KiB: a longer one is never stored).
_PER_SCHEMA = 12
_LONGEST = 10_000
_MAX_DOCUMENTS = 200
_MAX_VISITS = 4_000
_MAX_REFS = 3
_ANY_VALUES: tuple[Any, ...] = (None, True, 0, 0.5, "", "a", [], {})
_FORMATS = {
    "date-time": "2024-01-31T12:00:00Z",
    "date": "2024-01-31",
    "time": "12:00:00Z",
    "email": "a@example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "uri": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
}
# Keywords that assert nothing: a schema made of these alone accepts everything.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$defs", "$anchor", "$dynamicAnchor", "title", "description", "examples"}
    | {"default", "deprecated", "readOnly", "writeOnly", "contentMediaType", "contentEncoding"}
)
_EQUAL_ONLY = frozenset({"pattern", "format", "enum", "const", "multipleOf", "uniqueItems"})
_LOWER = {"minLength": "string", "minItems": "array", "minProperties": "object"}
_UPPER = {"maxLength": "string", "maxItems": "array", "maxProperties": "object"}
_NUMERIC = frozenset({"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "multipleOf"})
_TYPES = frozenset({"null", "boolean", "integer", "number", "string", "array", "object"})
_APPLIES_TO = {
    **dict.fromkeys(_NUMERIC, frozenset({"number", "integer"})),
    **dict.fromkeys(("minLength", "maxLength", "pattern", "format"), frozenset({"string"})),
    **dict.fromkeys(("items", "minItems", "maxItems", "uniqueItems"), frozenset({"array"})),
    **dict.fromkeys(
        ("properties", "required", "additionalProperties", "minProperties", "maxProperties"), frozenset({"object"})
    ),
    **dict.fromkeys(("enum", "const"), _TYPES),
}
_STRUCTURAL = frozenset(_APPLIES_TO) | _ANNOTATIONS | {"type"}


def _same(a: Any, b: Any) -> bool:
    """JSON equality without Python's `1 == 1.0 == True`."""
    return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(b, option=orjson.OPT_SORT_KEYS)


def _trivial(schema: Any) -> bool:
    return schema is True or (isinstance(schema, dict) and schema.keys() <= _ANNOTATIONS)


def _has_references(schema: Any) -> bool:
    return b'"$ref"' in orjson.dumps(schema) or b'"$dynamicRef"' in orjson.dumps(schema)


def _types(schema: dict[str, Any]) -> frozenset[str] | None:
    declared = schema.get("type")
    if declared is None:
        return None
    return frozenset([declared] if isinstance(declared, str) else declared)


def _bound_implied(keyword: str, a: dict[str, Any], bound: Any) -> bool:
    """Whether `a` keeps numbers within `keyword: bound` of the response side."""
    if keyword in ("minimum", "exclusiveMinimum"):
        low, strict_low = a.get("minimum"), a.get("exclusiveMinimum")
        if keyword == "minimum":
            return (low is not None and low >= bound) or (strict_low is not None and strict_low >= bound)
        return (low is not None and low > bound) or (strict_low is not None and strict_low >= bound)
    high, strict_high = a.get("maximum"), a.get("exclusiveMaximum")
    if keyword == "maximum":
        return (high is not None and high <= bound) or (strict_high is not None and strict_high <= bound)
    return (high is not None and high < bound) or (strict_high is not None and strict_high <= bound)


def _properties_implied(a: dict[str, Any], b: dict[str, Any]) -> bool:
    a_properties, b_properties = a.get("properties", {}), b.get("properties", {})
    a_rest, b_rest = a.get("additionalProperties", True), b.get("additionalProperties", True)
    for name, b_schema in b_properties.items():
        if not included(a_properties.get(name, a_rest), b_schema):
            return False
    return all(included(s, b_rest) for n, s in a_properties.items() if n not in b_properties) and included(
        a_rest, b_rest
    )


def _keyword_implied(keyword: str, a: dict[str, Any], b: dict[str, Any]) -> bool:
    bound = b[keyword]
    if keyword in _EQUAL_ONLY:
        return (keyword == "uniqueItems" and bound is False) or (keyword in a and _same(a[keyword], bound))
    if keyword in _LOWER or keyword in _UPPER:
        size: int | None = a.get(keyword, 0 if keyword in _LOWER else None)
        return size is not None and (size >= bound if keyword in _LOWER else size <= bound)
    if keyword == "required":
        return set(bound) <= set(a.get("required", ()))
    if keyword == "items":
        return "prefixItems" not in a and included(a.get("items", True), bound)
    if keyword in ("properties", "additionalProperties"):
        return _properties_implied(a, b)
    return _bound_implied(keyword, a, bound)


def included(a: Any, b: Any) -> bool:
    """True when every value `a` accepts is proved to satisfy `b`; False means not proved (maybe not included)."""
    if _trivial(b) or a is False:
        return True
    if _same(a, b) and not _has_references(a):
        return True
    if not isinstance(a, dict) or not isinstance(b, dict) or not (a.keys() | b.keys()) <= _STRUCTURAL:
        return False
    a_types, b_types = _types(a), _types(b)
    if b_types is not None and (
        a_types is None or not all(t in b_types or (t == "integer" and "number" in b_types) for t in a_types)
    ):
        return False
    possible = _TYPES if a_types is None else a_types | ({"integer"} if "number" in a_types else set())
    return all(
        _keyword_implied(keyword, a, b)
        for keyword in b.keys() - _ANNOTATIONS - {"type"}
        if _APPLIES_TO[keyword] & possible
    )


def served_schema(request_schema: dict[str, Any]) -> dict[str, Any]:
    """`request_schema` as it describes answered documents: with the server's `id`, one property more."""
    served = {
        **request_schema,
        "properties": {**request_schema.get("properties", {}), "id": ID_SCHEMA},
        "required": sorted({*request_schema.get("required", ()), "id"}),
    }
    for keyword in ("minProperties", "maxProperties"):
        if keyword in request_schema:
            served[keyword] = request_schema[keyword] + 1
    return served


class _Generator:
    """Candidate values for a schema, built from its structure; what they fail is checked apart."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.visits = 0

    def values(self, schema: Any, refs: int = 0, cap: int = _PER_SCHEMA) -> list[Any]:
        self.visits += 1
        if schema is False or self.visits > _MAX_VISITS:
            return []
        if not isinstance(schema, dict) or _trivial(schema):
            return list(_ANY_VALUES)
        found = [*schema.get("examples", ()), *([schema["default"]] if "default" in schema else [])]
        if "const" in schema or "enum" in schema:
            return _unique([*found, *([schema["const"]] if "const" in schema else schema["enum"])], cap)
        if (combined := self._combined(schema, refs, cap)) is not None:
            return combined
        types = _types(schema) or _inferred_types(schema)
        by_type = [self._of_type(kind, schema, refs) for kind in sorted(types)]
        return _unique([*found, *(value for values in by_type for value in values)], cap)

    def _combined(self, schema: dict[str, Any], refs: int, cap: int) -> list[Any] | None:
        """Candidates through references and combinators (None when there are none)."""
        for keyword in ("$ref", "$dynamicRef"):
            if isinstance(ref := schema.get(keyword), str):
                target = jsonschemas.local_target(self.root, ref)
                rest = {k: v for k, v in schema.items() if k != keyword}
                return [] if refs >= _MAX_REFS or target is None else self.values(_merge(rest, target), refs + 1, cap)
        if isinstance(branches := schema.get("allOf"), list):
            rest = {k: v for k, v in schema.items() if k != "allOf"}
            for branch in branches:
                rest = _merge(rest, branch)
            return self.values(rest, refs, cap)
        for keyword in ("anyOf", "oneOf"):
            if isinstance(branches := schema.get(keyword), list):
                rest = {k: v for k, v in schema.items() if k != keyword}
                return _unique([v for b in branches for v in self.values(_merge(rest, b), refs, cap)], cap)
        return None

    def _of_type(self, kind: str, schema: dict[str, Any], refs: int) -> list[Any]:
        if kind == "null":
            return [None]
        if kind == "boolean":
            return [True, False]
        if kind in ("integer", "number"):
            return _numbers(schema, fractions=kind == "number")
        if kind == "string":
            return _strings(schema)
        if kind == "array":
            return self._arrays(schema, refs)
        return self._objects(schema, refs)

    def _arrays(self, schema: dict[str, Any], refs: int) -> list[Any]:
        items = self.values(schema.get("items", True), refs)[:4]
        least = schema.get("minItems", 0)
        if least > _LONGEST:
            return []
        arrays: list[Any] = [[]] if least == 0 else []
        arrays += [[item] * max(least, 1) for item in items]
        arrays.append(items[: schema.get("maxItems", len(items))])
        return arrays

    def _objects(self, schema: dict[str, Any], refs: int) -> list[Any]:
        # Properties without references first: a recursive one must not spend the visits its siblings need.
        ordered = sorted(schema.get("properties", {}).items(), key=lambda item: _has_references(item[1]))
        properties = {name: self.values(sub, refs) for name, sub in ordered}
        properties = {name: values for name, values in properties.items() if values}
        required = [name for name in schema.get("required", ()) if name in properties]
        full = {name: values[0] for name, values in properties.items()}
        least = {name: full[name] for name in required}
        objects: list[Any] = [least, full]
        for name, values in properties.items():
            objects += [{**full, name: value} for value in values[1:]]
            if name not in required:
                objects.append({**least, name: values[0]})
        extra = schema.get("additionalProperties", True)
        if extra is not False and (extras := self.values(extra, refs)):
            objects += [{**full, "probe": value} for value in extras[:3]]
        return objects


def _merge(a: dict[str, Any], b: Any) -> dict[str, Any]:
    """A schema close to `allOf: [a, b]`, to build candidates from (they are validated afterwards)."""
    if not isinstance(b, dict):
        return a if b is True else {**a, "not": {}}
    merged = {**b, **a}
    if "properties" in a and "properties" in b:
        merged["properties"] = {**b["properties"], **a["properties"]}
    if "required" in a and "required" in b:
        merged["required"] = [*a["required"], *b["required"]]
    return merged


def _unique(values: list[Any], cap: int) -> list[Any]:
    seen: set[bytes] = set()
    kept = []
    for value in values:
        key = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        if key not in seen:
            seen.add(key)
            kept.append(value)
    return kept[:cap]


def _inferred_types(schema: dict[str, Any]) -> frozenset[str]:
    kinds = frozenset(kind for keyword, kinds in _APPLIES_TO.items() if keyword in schema for kind in kinds)
    return kinds or _TYPES


def _numbers(schema: dict[str, Any], *, fractions: bool) -> list[Any]:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    candidates = [low, high, -1, 0, 1, 10**9]
    if low is not None:
        candidates.append(int(low) + 1)
    if high is not None:
        candidates.append(int(high) - 1)
    step = schema.get("multipleOf")
    if isinstance(step, int):
        candidates = [None if c is None else -(-int(c) // step) * step for c in candidates]
    numbers: list[Any] = [int(c) if isinstance(c, float) and c.is_integer() else c for c in candidates]
    if fractions:
        numbers += [0.5, *(c + 0.5 for c in (low, high) if c is not None)]
    return [n for n in numbers if n is not None]


def _strings(schema: dict[str, Any]) -> list[Any]:
    least, most = schema.get("minLength", 0), schema.get("maxLength")
    if least > _LONGEST:
        return []
    strings = ["a" * least, "a" * max(least, 1), "a" * min(most if most is not None else 300, _LONGEST)]
    if isinstance(schema.get("format"), str) and schema["format"] in _FORMATS:
        strings.insert(0, _FORMATS[schema["format"]])
    return strings


class Counterexample(NamedTuple):
    """A document `request_schema` accepts and `response_schema` refuses once answered (with its `id`)."""

    answered: dict[str, Any]
    errors: list[FieldError]


def _documents(request_schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for candidate in _Generator(request_schema).values(request_schema, cap=_MAX_DOCUMENTS):
        if isinstance(candidate, dict):
            document = {name: value for name, value in candidate.items() if name != "id"}
            if not jsonschemas.check_json_value(document, pointer="#"):  # too large or deep: never stored
                yield document


def counterexample(request_schema: dict[str, Any], response_schema: dict[str, Any]) -> Counterexample | None:
    """The first probe document that proves the schemas disagree; None when probing finds none (bounded)."""
    request = jsonschemas.compile_validator(request_schema)
    response = jsonschemas.compile_validator(response_schema)
    try:
        with bounded.budget(jsonschemas.MAX_STEPS):
            for document in islice(_documents(request_schema), _MAX_DOCUMENTS):
                answered = {**document, "id": 1}
                if request.is_valid(document) and not response.is_valid(answered):
                    found = answered
                    break
            else:
                return None
    except (bounded.Exhausted, RecursionError):
        return None
    return Counterexample(found, jsonschemas.instance_errors(response, found))


def check(request_schema: dict[str, Any], response_schema: dict[str, Any] | None) -> Counterexample | None:
    """None when the response side accepts every answered document or nothing proves otherwise."""
    if response_schema is None or included(served_schema(request_schema), response_schema):
        return None
    return counterexample(request_schema, response_schema)
