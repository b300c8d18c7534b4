"""Whether a collection's response_schema accepts what its request_schema lets in (issue 17, item 16): proved,
refused with a document that shows it, or (where neither is possible) let through."""

from typing import Any

import pytest

from app.features.dynamic_endpoints import inclusion
from tests.support.calls import counting_calls

type JSON = dict[str, Any]

BOOK: JSON = {
    "type": "object",
    "properties": {"title": {"type": "string", "minLength": 1}, "pages": {"type": "integer", "minimum": 1}},
    "required": ["title"],
    "additionalProperties": False,
}
WITH_ID: JSON = BOOK | {"properties": BOOK["properties"] | {"id": {"type": "integer", "minimum": 1}}}
OPEN: JSON = {"type": "object", "properties": {"title": {"type": "string"}}}


@pytest.mark.parametrize(
    "response_schema",
    [
        {},
        {"title": "annotations only", "description": "anything"},
        WITH_ID,
        {"type": "object", "required": ["title", "id"]},
        {"type": "object", "properties": {"title": {"type": "string"}, "pages": {"type": "number", "minimum": 0}}},
        {"properties": {"id": {"type": "integer", "maximum": 2**31}}},
    ],
)
def test_a_response_schema_implied_by_the_request_schema_is_proved(response_schema: JSON) -> None:
    served = inclusion.served_schema(BOOK)
    assert inclusion.included(served, response_schema)
    assert inclusion.check(BOOK, response_schema) is None


@pytest.mark.parametrize(
    ("request_schema", "response_schema", "pointer"),
    [
        (BOOK, BOOK, "#"),  # identical, but answers carry an `id` that additionalProperties refuses
        (BOOK, {"properties": {"pages": {"maximum": 100}}}, "#/pages"),
        (BOOK, {"required": ["pages"]}, "#"),
        (BOOK, {"properties": {"title": {"maxLength": 20}}}, "#/title"),
        (OPEN, {"properties": {"title": {}, "id": {}}, "additionalProperties": False}, "#"),
        (
            {"type": "object", "properties": {"n": {"type": "number"}}},
            {"properties": {"n": {"type": "integer"}}},
            "#/n",
        ),
        (
            {"type": "object", "properties": {"n": {"anyOf": [{"type": "string"}, {"type": "null"}]}}},
            {"properties": {"n": {"type": "string"}}},
            "#/n",
        ),
        (
            {"type": "object", "$defs": {"s": {"type": "string"}}, "properties": {"e": {"$ref": "#/$defs/s"}}},
            {"properties": {"e": {"format": "email"}}},
            "#/e",
        ),
        (
            {"type": "object", "properties": {"tags": {"type": "array", "items": {"enum": ["a", "bb"]}}}},
            {"properties": {"tags": {"items": {"maxLength": 1}}}},
            "#/tags/0",
        ),
        (
            {"type": "object", "properties": {"id": {"type": "string"}}},
            {"properties": {"id": {"type": "string"}}},
            "#/id",
        ),
    ],
)
def test_a_response_schema_refusing_an_accepted_document_is_shown_a_counterexample(
    request_schema: JSON, response_schema: JSON, pointer: str
) -> None:
    found = inclusion.check(request_schema, response_schema)

    assert found is not None
    assert found.answered["id"] == 1
    assert pointer in [error.pointer for error in found.errors]


def test_what_probing_cannot_reach_is_let_through() -> None:
    # The fixed probe strings never match the request's pattern: nothing to probe with, so nothing is refused.
    a: JSON = {"type": "string", "pattern": "^x+$"}
    response_schema = {"properties": {"a": {"maxLength": 3}}}
    assert inclusion.check({"type": "object", "properties": {"a": a}, "required": ["a"]}, response_schema) is None
    # With an example that the request accepts, the same disagreement is found.
    a |= {"examples": ["xxxxxx"]}
    assert inclusion.check({"type": "object", "properties": {"a": a}, "required": ["a"]}, response_schema) is not None


def test_probing_a_sprawling_recursive_schema_is_bounded() -> None:
    """Ten self-references per level: the candidates would grow as 10^depth; the visit and step budgets stop it
    (counted in Python calls, which a busy machine does not change: an unbounded generator never ends)."""
    properties = {f"p{i}": {"$ref": "#"} for i in range(10)} | {"s": {"type": "string", "maxLength": 2}}
    request_schema = {"type": "object", "properties": properties}
    response_schema = {"type": "object", "properties": {"s": {"type": "string", "maxLength": 1}}}

    with counting_calls() as calls:
        found = inclusion.check(request_schema, response_schema)

    assert calls.count < 3_000_000  # ~380,000 now
    assert found is not None
