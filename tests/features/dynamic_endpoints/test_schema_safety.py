"""Schemas that are valid JSON Schema but would crash or stall validation are refused when saved, and request
bodies cannot make a saved schema crash: every such case is a 4xx problem, never a 500 or a stalled worker."""

from typing import Any

import httpx
import pytest

from tests import helpers
from tests.helpers import error_pointers, problem
from tests.support.dynamic_endpoints import ADMIN_ENDPOINTS, collection, create, static

BOOKS = "/api/v1/x/books"

type JSON = dict[str, Any]


def _nested(depth: int) -> JSON:
    body: JSON = {}
    for _ in range(depth):
        body = {"a": body}
    return body


@pytest.mark.parametrize(
    ("schema", "pointer"),
    [
        # (a) a reference that applies itself to the same value forever
        (
            {"type": "object", "$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
            "#/request_schema/$defs/a/$ref",
        ),
        (
            {"type": "object", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}}},
            "#/request_schema/$defs/b/allOf/0/$ref",
        ),
        ({"type": "object", "not": {"$ref": "#"}}, "#/request_schema/not/$ref"),
        ({"type": "object", "$defs": {"a": {"$anchor": "me", "$ref": "#me"}}}, "#/request_schema/$defs/a/$ref"),
        # (c) a nested $id (or $schema) moves the base that references resolve against
        (
            {
                "type": "object",
                "properties": {"a": {"$id": "https://example.com/a", "$ref": "#/$defs/b"}},
                "$defs": {"b": {"type": "string"}},
            },
            "#/request_schema/properties/a/$id",
        ),
        (
            {"type": "object", "properties": {"a": {"$schema": "https://json-schema.org/draft/2020-12/schema"}}},
            "#/request_schema/properties/a/$schema",
        ),
        # (d) patterns the linear-time engine cannot run
        ({"type": "object", "properties": {"a": {"pattern": "(a)\\1"}}}, "#/request_schema/properties/a/pattern"),
        ({"type": "object", "patternProperties": {"(?=x)": {}}}, "#/request_schema/patternProperties/(?=x)"),
        (
            {"type": "object", "patternProperties": {"^x": {}}, "unevaluatedProperties": False},
            "#/request_schema/patternProperties",
        ),
    ],
)
async def test_schemas_that_cannot_be_validated_safely_are_422_at_the_keyword(
    client: httpx.AsyncClient, admin: helpers.Headers, schema: JSON, pointer: str
) -> None:
    response = await client.post(ADMIN_ENDPOINTS, json=collection(request_schema=schema), headers=admin)

    assert pointer in error_pointers(response)


async def test_a_reference_chain_longer_than_the_depth_bound_is_refused(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    defs = {f"d{i}": {"$ref": f"#/$defs/d{i + 1}"} for i in range(40)} | {"d40": {"type": "object"}}
    schema = {"type": "object", "$defs": defs, "$ref": "#/$defs/d0"}

    assert error_pointers(await client.post(ADMIN_ENDPOINTS, json=collection(request_schema=schema), headers=admin))


async def test_a_cyclic_response_schema_with_an_example_is_422_not_500(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    schema = {"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}

    response = await client.post(ADMIN_ENDPOINTS, json=static(response_schema=schema), headers=admin)

    assert error_pointers(response) == ["#/response_schema/$defs/a/$ref"]


async def test_a_root_id_and_recursion_through_the_value_are_accepted(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    schema = {
        "$id": "https://example.com/tree",
        "type": "object",
        "properties": {"name": {"$ref": "#/$defs/name"}},
        "additionalProperties": {"$ref": "#"},
        "$defs": {"name": {"type": "string"}},
    }
    await create(client, admin, collection(request_schema=schema))

    assert (await client.post(BOOKS, json={"x": {"name": "leaf"}})).status_code == 201
    assert error_pointers(await client.post(BOOKS, json={"x": {"name": 5}})) == ["#/x/name"]


async def test_a_deep_body_for_a_self_recursive_schema_is_422_not_500(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    await create(client, admin, collection(request_schema={"type": "object", "additionalProperties": {"$ref": "#"}}))

    body = problem(await client.post(BOOKS, json=_nested(400)), 422, "validation-error")

    assert [(e["pointer"], e["code"]) for e in body["errors"]] == [("#", "too_deep")]
    assert (await client.post(BOOKS, json=_nested(20))).status_code == 201
    assert (await client.get(BOOKS)).json()["total"] == 1


async def test_patterns_run_in_linear_time_with_json_schema_classes(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    schema = {
        "type": "object",
        "properties": {"word": {"pattern": "^(a+)+$"}, "code": {"pattern": "^\\d+$"}},
        "patternProperties": {"^(x+)+$": {"type": "integer"}},
        "additionalProperties": False,
    }
    await create(client, admin, collection(request_schema=schema))

    # Catastrophic backtracking for Python's `re` (each takes hours there): answered at once.
    stalling = {"word": "a" * 64 + "!", "x" * 64 + "!": 1}
    assert error_pointers(await client.post(BOOKS, json=stalling)) == ["#", "#/word"]
    # ECMA-262 classes, as JSON Schema says: \d is [0-9], not every Unicode digit.
    assert error_pointers(await client.post(BOOKS, json={"code": "\u0663"})) == ["#/code"]
    assert (await client.post(BOOKS, json={"word": "aaa", "code": "42", "xx": 1})).status_code == 201
    assert error_pointers(await client.post(BOOKS, json={"xx": "one"})) == ["#/xx"]
