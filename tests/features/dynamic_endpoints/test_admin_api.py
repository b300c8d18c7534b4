"""The admin API of dynamic endpoints: strict validation of specs, no shadowing, versions and authorship."""

import httpx
import pytest

from tests import helpers
from tests.helpers import error_pointers, problem
from tests.support.dynamic_endpoints import ADMIN_ENDPOINTS, BOOK_SCHEMA, JSON, collection, create, static


async def test_admin_creates_reads_lists_replaces_and_deletes_a_spec(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    created = await create(client, admin, collection(summary="Books"))
    assert created["version"] == 1
    assert created["created_by"] == created["updated_by"]
    assert isinstance(created["created_by"], int)
    assert created["request_schema"] == BOOK_SCHEMA

    assert (await client.get(f"{ADMIN_ENDPOINTS}/{created['id']}", headers=admin)).json() == created
    page = (await client.get(ADMIN_ENDPOINTS, headers=admin)).json()
    assert [item["name"] for item in page["items"]] == ["books"]
    assert page["total"] == 1

    replaced = await client.put(
        f"{ADMIN_ENDPOINTS}/{created['id']}", json=collection(summary="All the books"), headers=admin
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["version"] == 2
    assert replaced.json()["summary"] == "All the books"

    assert (await client.delete(f"{ADMIN_ENDPOINTS}/{created['id']}", headers=admin)).status_code == 204
    problem(await client.get(f"{ADMIN_ENDPOINTS}/{created['id']}", headers=admin), 404, "not-found")


async def test_only_admins_manage_specs(client: httpx.AsyncClient, user: helpers.Headers) -> None:
    problem(await client.post(ADMIN_ENDPOINTS, json=collection()), 401, "unauthenticated")
    problem(await client.post(ADMIN_ENDPOINTS, json=collection(), headers=user), 403, "forbidden")
    problem(await client.get(ADMIN_ENDPOINTS, headers=user), 403, "forbidden")


@pytest.mark.parametrize(
    ("overrides", "pointer"),
    [
        ({"path": "/api/v1/users/books"}, "#/path"),
        ({"path": "/api/v1/x/"}, "#/path"),
        ({"path": "/api/v1/x/books/"}, "#/path"),
        ({"path": "/api/v1/x/books/{id:float}"}, "#/path"),
        ({"path": "/api/v1/x/a b"}, "#/path"),
        ({"path": "/api/v1/x/../users"}, "#/path"),  # would be /api/v1/users, a built-in route
        ({"path": "/api/v1/x/books/{shelf}"}, "#/path"),  # collections have no parameters
        ({"method": "GET"}, "#/method"),
        ({"request_schema": None}, "#/request_schema"),
        ({"request_schema": {"type": "array"}}, "#/request_schema"),
        (
            {"request_schema": {"type": "object", "properties": {"a": {"type": "strin"}}}},
            "#/request_schema/properties/a/type",
        ),
        ({"request_schema": {"type": "object", "minProperties": -1}}, "#/request_schema/minProperties"),
        (
            {"request_schema": {"type": "object", "properties": {"a": {"$ref": "https://evil.example/s.json"}}}},
            "#/request_schema/properties/a/$ref",
        ),
        ({"request_schema": {"type": "object", "$ref": "#/$defs/missing"}}, "#/request_schema/$ref"),
        (
            {"request_schema": {"type": "object", "$schema": "http://json-schema.org/draft-07/schema#"}},
            "#/request_schema/$schema",
        ),
        ({"request_schema": {"type": "object", "$schema": 5}}, "#/request_schema/$schema"),
        (
            {"request_schema": {"type": "object", "properties": {"a": {"pattern": "(unclosed"}}}},
            "#/request_schema/properties/a/pattern",
        ),
        ({"example": 10**30}, "#/example"),
        ({"auth": "scope:nothing:here"}, "#/auth"),
        ({"auth": "everyone"}, "#/auth"),
        ({"name": "Books!"}, "#/name"),
        ({"kind": "dynamic"}, "#/kind"),
        ({"surprise": 1}, "#/surprise"),
    ],
)
async def test_invalid_specs_are_422_at_the_offending_field(
    client: httpx.AsyncClient, admin: helpers.Headers, overrides: JSON, pointer: str
) -> None:
    response = await client.post(ADMIN_ENDPOINTS, json=collection() | overrides, headers=admin)

    assert pointer in error_pointers(response)
    assert (await client.get(ADMIN_ENDPOINTS, headers=admin)).json()["total"] == 0


async def test_schemas_are_bounded_in_size_and_depth(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    deep: JSON = {"type": "object"}
    for _ in range(40):
        deep = {"type": "object", "properties": {"a": deep}}
    big = {"type": "object", "description": "x" * 70_000}

    assert error_pointers(await client.post(ADMIN_ENDPOINTS, json=collection(request_schema=deep), headers=admin)) == [
        "#/request_schema"
    ]
    assert error_pointers(await client.post(ADMIN_ENDPOINTS, json=collection(request_schema=big), headers=admin)) == [
        "#/request_schema"
    ]


async def test_local_refs_and_defs_are_accepted(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {"title": {"type": "string"}},
        "properties": {"title": {"$ref": "#/$defs/title"}},
    }
    await create(client, admin, collection(request_schema=schema))


async def test_a_static_example_must_satisfy_its_response_schema(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    response = await client.post(ADMIN_ENDPOINTS, json=static(example={"ok": "yes"}), headers=admin)
    assert error_pointers(response) == ["#/example/ok"]
    assert error_pointers(await client.post(ADMIN_ENDPOINTS, json=static(example=None), headers=admin)) == ["#/example"]
    assert error_pointers(await client.post(ADMIN_ENDPOINTS, json=static(method=None), headers=admin)) == ["#/method"]


async def test_a_collection_whose_response_schema_refuses_what_its_request_schema_accepts_is_422(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    """Issue 17, item 16: such a spec made every write of those documents a 500; it is refused, naming both."""
    at_most_100 = {"type": "object", "properties": {"pages": {"type": "integer", "maximum": 100}}}

    response = await client.post(ADMIN_ENDPOINTS, json=collection(response_schema=at_most_100), headers=admin)

    assert error_pointers(response) == ["#/request_schema", "#/response_schema"]
    body = response.json()
    assert "request_schema" in body["detail"]
    assert "response_schema" in body["detail"]
    assert "fails maximum: 100" in body["errors"][1]["detail"]
    # The very same schema is refused too: answers carry an `id` that its additionalProperties forbid...
    response = await client.post(ADMIN_ENDPOINTS, json=collection(response_schema=BOOK_SCHEMA), headers=admin)
    assert error_pointers(response) == ["#/request_schema", "#/response_schema"]
    # ...and saved once it allows it; replacing the spec with a refusing pair is refused the same way.
    with_id = BOOK_SCHEMA | {"properties": BOOK_SCHEMA["properties"] | {"id": {"type": "integer"}}}
    created = await create(client, admin, collection(response_schema=with_id))
    url = f"{ADMIN_ENDPOINTS}/{created['id']}"
    response = await client.put(url, json=collection(response_schema=at_most_100), headers=admin)
    assert error_pointers(response) == ["#/request_schema", "#/response_schema"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (collection(), collection(name="other")),  # same path
        (collection(), static(name="books", path="/api/v1/x/elsewhere")),  # same name
        (static(path="/api/v1/x/a/{id}"), static(name="b", path="/api/v1/x/a/b")),
        (static(path="/api/v1/x/a/b"), static(name="b", path="/api/v1/x/a/{id}")),
        (static(path="/api/v1/x/a/{id:int}"), static(name="b", path="/api/v1/x/a/42")),
        (static(path="/api/v1/x/a/{id:int}"), static(name="b", path="/api/v1/x/a/{slug:str}")),
        (static(path="/api/v1/x/a/{id:uuid}"), static(name="b", path="/api/v1/x/a/{slug}")),
        (collection(), static(name="b", path="/api/v1/x/books/7")),  # a collection also serves books/{id:int}
        (collection(), static(name="b", path="/api/v1/x/books/{n:int}", method="DELETE")),
    ],
)
async def test_specs_that_could_serve_the_same_request_are_409(
    client: httpx.AsyncClient, admin: helpers.Headers, first: JSON, second: JSON
) -> None:
    await create(client, admin, first)

    problem(await client.post(ADMIN_ENDPOINTS, json=second, headers=admin), 409, "conflict")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (static(path="/api/v1/x/a/{id:int}"), static(name="b", path="/api/v1/x/a/latest")),
        (static(path="/api/v1/x/a/{id:int}"), static(name="b", path="/api/v1/x/a/{key:uuid}")),
        (static(path="/api/v1/x/a/{id}"), static(name="b", path="/api/v1/x/a/{id}/c")),
        (collection(), static(name="b", path="/api/v1/x/books/latest")),
    ],
)
async def test_specs_that_never_serve_the_same_request_coexist(
    client: httpx.AsyncClient, admin: helpers.Headers, first: JSON, second: JSON
) -> None:
    await create(client, admin, first)
    await create(client, admin, second)


async def test_a_spec_can_be_replaced_under_its_own_path_but_not_change_kind(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    created = await create(client, admin, collection())
    url = f"{ADMIN_ENDPOINTS}/{created['id']}"

    assert (await client.put(url, json=collection(summary="again"), headers=admin)).status_code == 200
    problem(await client.put(url, json=static(name="books", path="/api/v1/x/books"), headers=admin), 409, "conflict")


@pytest.mark.settings(dynamic_endpoints_max_specs=2)
async def test_the_number_of_specs_is_bounded(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    await create(client, admin, static(name="a", path="/api/v1/x/a"))
    await create(client, admin, static(name="b", path="/api/v1/x/b"))

    body = problem(
        await client.post(ADMIN_ENDPOINTS, json=static(name="c", path="/api/v1/x/c"), headers=admin), 409, "conflict"
    )
    assert "FORGE_DYNAMIC_ENDPOINTS_MAX_SPECS" in body["detail"]


async def test_static_specs_of_different_methods_share_a_path(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    await create(client, admin, static(path="/api/v1/x/a/{id:int}", example={"ok": True}))
    await create(client, admin, static(name="b", path="/api/v1/x/a/{id:int}", method="POST", example={"ok": False}))

    assert (await client.get("/api/v1/x/a/1")).json() == {"ok": True}
    assert (await client.post("/api/v1/x/a/1")).json() == {"ok": False}
    refused = await client.put("/api/v1/x/a/1")
    assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD, POST")
    assert set((await client.get("/openapi.json")).json()["paths"]["/api/v1/x/a/{id}"]) == {"get", "post"}
    again = static(name="c", path="/api/v1/x/a/{id:int}", method="POST")
    problem(await client.post(ADMIN_ENDPOINTS, json=again, headers=admin), 409, "conflict")
    other_names = static(name="d", path="/api/v1/x/a/{n:int}", method="PUT")  # the same requests, another template
    problem(await client.post(ADMIN_ENDPOINTS, json=other_names, headers=admin), 409, "conflict")
