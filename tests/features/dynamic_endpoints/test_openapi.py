"""Dynamic endpoints in `/openapi.json`: one component per spec, and errors documented as built-in routes do."""

from typing import Any

import httpx
import pytest

from app.features.dynamic_endpoints.openapi import component_name
from tests import helpers
from tests.support.dynamic_endpoints import ADMIN_ENDPOINTS, collection, create, static

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}

type JSON = dict[str, Any]


def _errors(operation: JSON) -> dict[str, JSON]:
    return {status: response for status, response in operation["responses"].items() if int(status) >= 400}


@pytest.mark.parametrize("names", [("a-b", "a_b"), ("a_b", "a__b"), ("ab_c", "a_bc"), ("a_b", "a_b_")])
def test_component_names_are_one_to_one(names: tuple[str, str]) -> None:
    assert component_name(names[0]) != component_name(names[1])


def test_component_names_stay_readable() -> None:
    assert component_name("books") == "DynamicBooks"
    assert component_name("opening_hours") == "DynamicOpeningHours"


async def test_specs_whose_names_differ_by_punctuation_keep_their_own_components(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    first = {"type": "object", "properties": {"first": {"type": "string"}}}
    second = {"type": "object", "properties": {"second": {"type": "integer"}}}
    await create(client, admin, collection(name="a-b", path="/api/v1/x/one", request_schema=first))
    await create(client, admin, collection(name="a_b", path="/api/v1/x/two", request_schema=second))

    document = (await client.get("/openapi.json")).json()

    schemas = document["components"]["schemas"]
    refs = [
        document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        for path in ("/api/v1/x/one", "/api/v1/x/two")
    ]
    assert len(set(refs)) == 2
    resolved = [schemas[ref.removeprefix("#/components/schemas/")] for ref in refs]
    assert resolved == [first, second]


async def test_dynamic_operations_document_the_errors_built_in_routes_do(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    await create(client, admin, collection(auth="admin"))
    document = (await client.get("/openapi.json")).json()

    built_in = _errors(document["paths"][ADMIN_ENDPOINTS]["get"])  # an admin listing with page and size
    dynamic = _errors(document["paths"]["/api/v1/x/books"]["get"])
    assert set(dynamic) == set(built_in) >= {"401", "403", "413", "422", "429", "500", "503"}
    assert all(response["content"] == PROBLEM for response in dynamic.values())
    assert dynamic["401"]["headers"] == built_in["401"]["headers"]
    assert dynamic["429"]["headers"] == built_in["429"]["headers"]

    created = _errors(document["paths"]["/api/v1/x/books"]["post"])
    assert {"400", "415", "422"} <= set(created)
    assert "404" not in created
    assert {"404", "400", "415", "422"} <= set(_errors(document["paths"]["/api/v1/x/books/{id}"]["put"]))


@pytest.mark.parametrize(
    ("auth", "expected"), [("public", set()), ("user", {"401"}), ("scope:api:read", {"401", "403"})]
)
async def test_auth_errors_follow_the_spec_auth(
    client: httpx.AsyncClient, admin: helpers.Headers, auth: str, expected: set[str]
) -> None:
    await create(client, admin, static(auth=auth))
    document = (await client.get("/openapi.json")).json()

    errors = set(_errors(document["paths"]["/api/v1/x/status"]["get"]))

    assert errors & {"401", "403"} == expected
    assert errors >= {"413", "429", "500", "503"}
