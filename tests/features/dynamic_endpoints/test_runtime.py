"""Dynamic endpoints as clients see them: collections, static answers, auth, errors, OpenAPI and metrics."""

import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.features.dynamic_endpoints.dispatch import assert_prefix_reserved
from app.features.dynamic_endpoints.models import EndpointDocument
from app.main import create_app
from tests import helpers
from tests.helpers import error_pointers, problem
from tests.support.dynamic_endpoints import ADMIN_ENDPOINTS, BOOK_SCHEMA, collection, create, static

BOOKS = "/api/v1/x/books"

type JSON = dict[str, Any]


async def test_a_collection_stores_lists_reads_replaces_and_deletes_documents(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    await create(client, admin, collection())

    created = await client.post(BOOKS, json={"title": "Dune", "pages": 412})
    assert created.status_code == 201, created.text
    book = created.json()
    assert book == {"title": "Dune", "pages": 412, "id": book["id"]}
    await client.post(BOOKS, json={"title": "Emma"})

    page = (await client.get(BOOKS, params={"size": 1})).json()
    assert isinstance(page.pop("next_cursor"), str)  # another page follows
    assert page == {"items": [book], "total": 2, "page": 1, "size": 1, "pages": 2}
    assert (await client.get(f"{BOOKS}/{book['id']}")).json() == book

    replaced = await client.put(f"{BOOKS}/{book['id']}", json={"title": "Dune Messiah"})
    assert replaced.json() == {"title": "Dune Messiah", "id": book["id"]}
    assert (await client.delete(f"{BOOKS}/{book['id']}")).status_code == 204
    problem(await client.get(f"{BOOKS}/{book['id']}"), 404, "not-found")
    assert (await client.get(BOOKS)).json()["total"] == 1


async def test_bodies_violating_the_schema_are_422_with_a_pointer_per_violation(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    await create(client, admin, collection())

    response = await client.post(BOOKS, json={"title": "", "pages": "many", "extra": "secret-value"})

    body = problem(response, 422, "validation-error")
    assert [e["pointer"] for e in body["errors"]] == ["#", "#/pages", "#/title"]
    assert "secret-value" not in response.text
    assert error_pointers(await client.post(BOOKS, json={"title": "x", "id": 5})) == ["#", "#/id"]  # also extra
    assert error_pointers(await client.post(BOOKS, json=["a list"])) == ["#"]
    assert (await client.get(BOOKS)).json()["total"] == 0


async def test_a_nul_in_a_document_is_422_at_its_pointer_on_every_database(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    """SQLite stored it; PostgreSQL's JSON cannot. Refused at validation on both, in values and in keys."""
    await create(client, admin, collection(request_schema={"type": "object"}))
    stored = (await client.post(BOOKS, json={"title": "Dune"})).json()

    assert error_pointers(await client.post(BOOKS, json={"title": "Du\u0000ne"})) == ["#/title"]
    assert error_pointers(await client.post(BOOKS, json={"tags": ["ok", "n\u0000"]})) == ["#/tags/1"]
    replaced = await client.put(f"{BOOKS}/{stored['id']}", json={"title": "x", "k\u0000": 1})
    assert error_pointers(replaced) == ["#/k\u0000"]
    assert (await client.get(BOOKS)).json()["items"] == [stored]
    text_of_an_escape = await client.post(BOOKS, json={"title": "\\u0000"})  # a backslash, then "u0000"
    assert text_of_an_escape.status_code == 201, text_of_an_escape.text


async def test_a_nul_in_a_spec_is_422_at_its_pointer(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    response = await client.post(ADMIN_ENDPOINTS, json=static(example={"ok": True, "note": "a\u0000"}), headers=admin)
    assert error_pointers(response) == ["#/example/note"]
    response = await client.post(ADMIN_ENDPOINTS, json=static(summary="nul\u0000"), headers=admin)
    assert error_pointers(response) == ["#/summary"]


async def test_pointers_escape_slashes_and_tildes(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    schema = {"type": "object", "properties": {"a/b~c": {"type": "integer"}}}
    await create(client, admin, collection(request_schema=schema))

    assert error_pointers(await client.post(BOOKS, json={"a/b~c": "x"})) == ["#/a~1b~0c"]


async def test_malformed_or_non_json_bodies_are_400_and_415(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    await create(client, admin, collection())

    problem(await client.post(BOOKS, content=b"{", headers={"Content-Type": "application/json"}), 400, "malformed-json")
    problem(
        await client.post(BOOKS, content=b"title=x", headers={"Content-Type": "text/plain"}),
        415,
        "unsupported-media-type",
    )


async def test_unknown_paths_are_404_and_wrong_methods_405_with_allow(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    await create(client, admin, collection())

    # (A trailing slash redirects to the path without it, as for built-in routes.)
    for path in ("/api/v1/x/nothing", f"{BOOKS}/abc", f"{BOOKS}/1/more", "/api/v1/x/"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == helpers.PROBLEM_JSON
    response = await client.patch(f"{BOOKS}/1", json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD, PUT"
    assert (await client.delete(BOOKS)).headers["allow"] == "GET, HEAD, POST"
    problem(await client.get(f"{BOOKS}/99999999999"), 404, "not-found")


async def test_page_parameters_are_checked(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    await create(client, admin, collection())

    body = problem(await client.get(BOOKS, params={"page": "0", "size": "x"}), 422, "validation-error")
    assert [(e["location"], e["pointer"]) for e in body["errors"]] == [("query", "#/page"), ("query", "#/size")]
    for page in ("²", "9" * 5000, "-1", "101000"):
        assert error_pointers(await client.get(BOOKS, params={"page": page})) == ["#/page"], page


async def test_a_static_spec_answers_with_its_example(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    await create(client, admin, static(path="/api/v1/x/status/{region:uuid}", example={"ok": True, "note": "é"}))

    response = await client.get("/api/v1/x/status/6f1c2a9e-8a52-4a43-9f0e-3c1b7d5e2a10")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"ok": True, "note": "é"}
    assert "x-request-id" in response.headers  # the same middleware as every route
    assert (await client.get("/api/v1/x/status/not-a-uuid")).status_code == 404


async def test_a_static_post_validates_its_body(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    spec = static(name="echo", path="/api/v1/x/echo", method="POST", request_schema=BOOK_SCHEMA)
    await create(client, admin, spec)

    assert (await client.post("/api/v1/x/echo", json={"title": "t"})).json() == {"ok": True}
    assert error_pointers(await client.post("/api/v1/x/echo", json={})) == ["#"]


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ("public", (200, 200, 200)),
        ("user", (401, 200, 200)),
        ("admin", (401, 403, 200)),
        ("scope:api:read", (401, 200, 200)),  # a bearer user passes; keys need the scope
    ],
)
async def test_each_auth_level_is_enforced(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers, auth: str, expected: tuple[int, ...]
) -> None:
    await create(client, admin, static(auth=auth))

    statuses = [(await client.get("/api/v1/x/status", headers=h)).status_code for h in ({}, user, admin)]

    assert tuple(statuses) == expected


async def test_scope_auth_accepts_api_keys_with_that_scope_only(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    await create(client, admin, collection(auth="scope:api:read"))
    keys: dict[str, str] = {}
    for scope in ("api:read", "api:write"):
        issued = await client.post("/api/v1/api-keys", json={"name": scope, "scopes": [scope]}, headers=user)
        assert issued.status_code == 201, issued.text
        keys[scope] = issued.json()["key"]

    assert (await client.post(BOOKS, json={"title": "a"}, headers={"X-API-Key": keys["api:read"]})).status_code == 201
    problem(await client.get(BOOKS, headers={"X-API-Key": keys["api:write"]}), 403, "forbidden")
    problem(await client.get(BOOKS, headers={"X-API-Key": "fgk_not-a-real-key"}), 401, "unauthenticated")


async def test_user_auth_does_not_take_api_keys(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    await create(client, admin, static(auth="user"))
    issued = await client.post("/api/v1/api-keys", json={"name": "k", "scopes": ["api:read"]}, headers=user)

    problem(await client.get("/api/v1/x/status", headers={"X-API-Key": issued.json()["key"]}), 401, "unauthenticated")


async def test_routes_appear_in_openapi_when_registered_and_vanish_when_removed(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    schema = {"type": "object", "$defs": {"t": {"type": "string"}}, "properties": {"title": {"$ref": "#/$defs/t"}}}
    created = await create(client, admin, collection(request_schema=schema, auth="user"))
    document = (await client.get("/openapi.json")).json()

    assert set(document["paths"][BOOKS]) == {"get", "post"}
    assert set(document["paths"][f"{BOOKS}/{{id}}"]) == {"get", "put", "delete"}
    post = document["paths"][BOOKS]["post"]
    assert post["tags"] == ["dynamic"]
    assert post["security"] == [{"OAuth2PasswordBearer": []}]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/DynamicBooksRequest"
    }
    component = document["components"]["schemas"]["DynamicBooksRequest"]
    assert component["properties"]["title"] == {"$ref": "#/components/schemas/DynamicBooksRequest/$defs/t"}
    assert "OAuth2PasswordBearer" in document["components"]["securitySchemes"]  # the built-in routes' schemes stay
    assert "/api/v1/x/{rest}" not in document["paths"]

    await client.delete(f"{ADMIN_ENDPOINTS}/{created['id']}", headers=admin)
    document = (await client.get("/openapi.json")).json()
    assert BOOKS not in document["paths"]
    assert "DynamicBooksRequest" not in document["components"]["schemas"]
    assert "/api/v1/users/me" in document["paths"]  # the built-in routes stay


async def test_a_removed_spec_stops_serving_at_once(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    created = await create(client, admin, static())
    assert (await client.get("/api/v1/x/status")).status_code == 200

    await client.delete(f"{ADMIN_ENDPOINTS}/{created['id']}", headers=admin)

    assert (await client.get("/api/v1/x/status")).status_code == 404


async def test_a_changed_schema_applies_at_once_and_cannot_orphan_stored_documents(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    created = await create(client, admin, collection())
    document = (await client.post(BOOKS, json={"title": "Dune"})).json()
    url = f"{ADMIN_ENDPOINTS}/{created['id']}"
    needs_pages = BOOK_SCHEMA | {"required": ["title", "pages"]}

    body = problem(await client.put(url, json=collection(request_schema=needs_pages), headers=admin), 409, "conflict")
    assert body["document_ids"] == [document["id"]]

    await client.put(f"{BOOKS}/{document['id']}", json={"title": "Dune", "pages": 412})
    assert (await client.put(url, json=collection(request_schema=needs_pages), headers=admin)).status_code == 200
    assert error_pointers(await client.post(BOOKS, json={"title": "Emma"})) == ["#"]


async def test_a_stored_document_that_fails_the_response_schema_is_a_500_naming_the_endpoint(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 17, item 16: a row changed outside the API (or a pair probing could not fault) is a 500 of its own
    type whose detail names the endpoint, logged once, never a generic internal error."""
    await create(client, admin, collection(response_schema={"type": "object", "required": ["title"]}))
    document = (await client.post(BOOKS, json={"title": "Dune"})).json()
    changed = update(EndpointDocument).where(EndpointDocument.id == document["id"]).values(data={"pages": 31337})
    await db_session.execute(changed)

    with caplog.at_level(logging.INFO):
        response = await client.get(f"{BOOKS}/{document['id']}")

    body = problem(response, 500, "stored-document-invalid")
    assert "'books'" in body["detail"]
    assert f"document {document['id']}" in body["detail"]
    assert "31337" not in response.text  # pointers in the schema's terms, never the stored values
    logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(logged) == 1
    assert "'books'" in str(logged[0].msg)
    problem(await client.get(BOOKS), 500, "stored-document-invalid")  # a listing that meets it too


async def test_documents_go_with_their_collection(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    created = await create(client, admin, collection())
    await client.post(BOOKS, json={"title": "Dune"})
    count = select(func.count()).select_from(EndpointDocument).where(EndpointDocument.spec_id == created["id"])
    assert await db_session.scalar(count) == 1

    await client.delete(f"{ADMIN_ENDPOINTS}/{created['id']}", headers=admin)

    assert await db_session.scalar(count) == 0  # ON DELETE CASCADE


def test_no_built_in_route_may_live_under_the_prefix(settings: Settings) -> None:
    app = create_app(settings)
    assert_prefix_reserved(app)  # the real app passes

    @app.get("/api/v1/x/mine")
    async def mine() -> None: ...

    with pytest.raises(RuntimeError, match="reserved for dynamic endpoints"):
        assert_prefix_reserved(app)


async def test_metrics_label_dynamic_requests_by_template(
    app: FastAPI, client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    await create(client, admin, static(path="/api/v1/x/status/{code:int}"))
    for code in (1, 2, 3):
        await client.get(f"/api/v1/x/status/{code}")

    metrics = (await client.get("/metrics")).text
    assert 'route="/api/v1/x/status/{code}",status="200"} 3.0' in metrics
    assert "/api/v1/x/status/1" not in metrics


async def test_a_document_has_one_url_other_spellings_of_its_id_match_nothing(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    await create(client, admin, collection())
    book = (await client.post(BOOKS, json={"title": "Dune"})).json()

    assert (await client.get(f"{BOOKS}/{book['id']}")).json() == book
    # `{id:int}` takes canonical decimals only, as built-in routes do; what it does not match is no path (404).
    for spelling in (f"0{book['id']}", f"00{book['id']}", f"%2B{book['id']}", f"{book['id']}.0"):
        response = await client.get(f"{BOOKS}/{spelling}")
        assert response.status_code == 404, spelling
        assert response.headers["content-type"] == helpers.PROBLEM_JSON


async def test_head_is_answered_by_a_specs_get_with_no_body(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    await create(client, admin, collection())
    await create(client, admin, static())
    book = (await client.post(BOOKS, json={"title": "Dune"})).json()
    for url in ("/api/v1/x/status", BOOKS, f"{BOOKS}/{book['id']}"):
        got, head = await client.get(url), await client.head(url)
        assert (head.status_code, head.content) == (200, b""), url
        assert head.headers["content-length"] == got.headers["content-length"], url
    refused = await client.put("/api/v1/x/status")
    assert refused.headers["allow"] == "GET, HEAD"
