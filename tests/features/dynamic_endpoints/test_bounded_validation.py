"""Validating a body against a stored schema costs a bounded amount, whatever the schema (issue 24, item 1): the
quadratic keywords are linear, schemas that fan out exponentially are refused when saved, and any validation
beyond the step budget is a 422 `too_complex`, never a stalled worker."""

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.core.context import AppContext
from tests import helpers
from tests.helpers import error_pointers, problem
from tests.support.calls import counting_calls
from tests.support.dynamic_endpoints import ADMIN_ENDPOINTS, collection, create

BOOKS = "/api/v1/x/books"
# Work is counted in Python calls (tests/support/calls.py), which a busy machine does not change. Each pair of
# requests below makes 0.5-0.75 million calls now; before the bound they took 26 s to hours (docs/dynamic-endpoints.md,
# "What validation costs"): the quadratic keywords compared 5,000 items pairwise, 12.5 million calls of `equal`.
LINEAR_CALLS = 3_000_000
# A body that spends the whole step budget makes ~3.2 million calls; before the budget it never ended.
EXHAUSTED_CALLS = 15_000_000
# Of those, the event loop's thread makes 15,000-40,000 (the request, and the first INLINE_STEPS of validation): the
# rest runs in a worker thread, and the loop serves other requests meanwhile. On the loop, it would be all of them.
LOOP_CALLS = 100_000

type JSON = dict[str, Any]


def _unique_items_schema() -> JSON:
    item = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    return {"type": "object", "properties": {"items": {"type": "array", "uniqueItems": True, "items": item}}}


async def test_unique_items_of_a_large_array_are_checked_at_once(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    await create(client, admin, collection(request_schema=_unique_items_schema()))
    items = [{"a": i} for i in range(5_000)]  # 54 KiB: within the 64 KiB bound of a validated body

    with counting_calls() as calls:
        created = await client.post(BOOKS, json={"items": items})
        duplicated = await client.post(BOOKS, json={"items": [*items, {"a": 4_999.0}]})

    assert calls.count < LINEAR_CALLS
    assert calls.on_entering_thread < LOOP_CALLS
    assert created.status_code == 201, created.text
    assert error_pointers(duplicated) == ["#/items"]


@pytest.mark.parametrize(
    ("items", "unique"),
    [
        ([1, 1.0], False),  # JSON Schema's equality: numbers by value
        ([1, True], True),  # a boolean is never a number
        ([0, False], True),
        ([{"a": 1, "b": [1, 2]}, {"b": [1.0, 2], "a": 1}], False),  # objects regardless of key order
        ([[1, 2], [2, 1]], True),  # arrays in order
        ([None, "null", 0, "", [], {}], True),
        ([{"a": None}, {"a": None}], False),
    ],
)
async def test_unique_items_follows_json_schema_equality(
    client: httpx.AsyncClient, admin: helpers.Headers, items: list[Any], unique: bool
) -> None:
    schema = {"type": "object", "properties": {"items": {"type": "array", "uniqueItems": True}}}
    await create(client, admin, collection(request_schema=schema))

    response = await client.post(BOOKS, json={"items": items})

    assert (response.status_code == 201) is unique, response.text


async def test_unevaluated_properties_of_a_large_object_are_checked_at_once(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}},
        "allOf": [{"properties": {"tags": {"type": "object", "additionalProperties": {"type": "integer"}}}}],
        "unevaluatedProperties": False,
    }
    await create(client, admin, collection(request_schema=schema))
    tags = {f"t{i}": i for i in range(5_000)}

    with counting_calls() as calls:
        created = await client.post(BOOKS, json={"title": "Dune", "tags": tags})
        refused = await client.post(BOOKS, json={"title": "Dune", "tags": tags, "extra": 1})

    assert calls.count < LINEAR_CALLS
    assert calls.on_entering_thread < LOOP_CALLS
    assert created.status_code == 201, created.text
    assert error_pointers(refused) == ["#"]


async def test_a_schema_that_fans_out_exponentially_is_refused_when_saved(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    # Each definition applies the next one twice to the same value: 2**12 subschemas on every value.
    defs: JSON = {f"d{i}": {"allOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"$ref": f"#/$defs/d{i + 1}"}]} for i in range(12)}
    defs["d12"] = {"type": "object"}
    schema = {"type": "object", "$defs": defs, "$ref": "#/$defs/d0"}

    response = await client.post(ADMIN_ENDPOINTS, json=collection(request_schema=schema), headers=admin)
    body = problem(response, 422, "validation-error")

    assert {e["code"] for e in body["errors"]} == {"too_complex"}


async def test_a_body_too_costly_to_check_is_422_within_the_bound(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    # Recursion through the value under a fan-out of two: 2**depth subschemas at the innermost value.
    again = {"properties": {"a": {"$ref": "#"}}}
    await create(client, admin, collection(request_schema={"type": "object", "allOf": [again, again]}))
    body: JSON = {}
    for _ in range(30):
        body = {"a": body}

    with counting_calls() as calls:
        answer = problem(await client.post(BOOKS, json=body), 422, "validation-error")

    assert calls.count < EXHAUSTED_CALLS
    assert calls.on_entering_thread < LOOP_CALLS
    assert [(e["pointer"], e["code"]) for e in answer["errors"]] == [("#", "too_complex")]
    assert (await client.get(BOOKS)).json()["total"] == 0


async def test_an_oversized_chunked_body_is_a_quiet_413_that_closes_the_connection(
    context: AppContext, client: httpx.AsyncClient, admin: helpers.Headers, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 24, item 7: as for built-in routes, no `unhandled_error` (the dynamic body reader meets the
    disconnect the limit reports), and the client learns that the connection is closing."""
    await create(client, admin, collection())
    limit = context.settings.max_body_bytes

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * (limit // 2 + 1)

    with caplog.at_level(logging.INFO):
        response = await client.post(BOOKS, content=chunks(), headers={"content-type": "application/json"})

    problem(response, 413, "payload-too-large")
    assert response.headers["connection"] == "close"
    assert [r.name for r in caplog.records if r.levelno >= logging.WARNING] == []
