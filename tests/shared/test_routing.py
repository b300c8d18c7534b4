"""`ForgeRoute` documents every error status a route can answer, as problem+json (issue #8)."""

import re
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel
from starlette.routing import Match

from app.core.identifiers import ResourceID
from app.core.problems import (
    PROBLEM_MEDIA_TYPE,
    PROBLEM_SCHEMA_REF,
    Problem,
    install_exception_handlers,
    install_problem_schema,
)
from app.main import create_app
from app.shared.routing import ForgeRoute, answers, include_flat
from tests import helpers
from tests.support.settings import make_settings

PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}}


class Thing(BaseModel):
    name: str


@answers(401, 403)
async def guard() -> None:
    return None


@answers(401)
class ClassGuard:
    async def __call__(self) -> None:
        return None


def _document() -> dict[str, Any]:
    router = APIRouter(route_class=ForgeRoute)

    @router.get("/healthz")
    async def probe() -> Thing:
        return Thing(name="ok")

    @router.get("/plain")
    async def plain() -> Thing:
        return Thing(name="x")

    @router.post("/things", status_code=201, responses={409: {"description": "Taken."}})
    async def create(thing: Thing, _: Annotated[None, Depends(guard)]) -> Thing:
        return thing

    @router.get("/things/{thing_id}")
    async def read(thing_id: ResourceID, _: Annotated[None, Depends(ClassGuard())]) -> Thing:
        return Thing(name=str(thing_id))

    app = FastAPI()
    app.include_router(router, prefix="")
    install_problem_schema(app)
    return app.openapi()


def _statuses(document: dict[str, Any], path: str, method: str) -> list[str]:
    return sorted(document["paths"][path][method]["responses"])


def test_statuses_follow_from_what_the_route_is_made_of() -> None:
    document = _document()
    assert _statuses(document, "/healthz", "get") == ["200", "413", "500"]  # no rate limit on probes
    assert _statuses(document, "/plain", "get") == ["200", "413", "429", "500", "503"]
    # A body: 400/415/422; a dependency marked with @answers: 401/403; the route's own 409.
    with_body = ["201", "400", "401", "403", "409", "413", "415", "422", "429", "500", "503"]
    assert _statuses(document, "/things", "post") == with_body
    # A path parameter: 404 and 422; a class marked with @answers, used through an instance: 401.
    assert _statuses(document, "/things/{thing_id}", "get") == ["200", "401", "404", "413", "422", "429", "500", "503"]


def test_every_error_is_documented_as_a_problem_and_a_route_description_wins() -> None:
    document = _document()
    responses = document["paths"]["/things"]["post"]["responses"]
    assert responses["409"] == {"description": "Taken.", "content": PROBLEM_CONTENT}
    for status, response in responses.items():
        if int(status) >= 400:
            assert response["content"] == PROBLEM_CONTENT, status
    assert "application/json" in responses["201"]["content"]
    assert "HTTPValidationError" not in document["components"]["schemas"]  # FastAPI's 422 is replaced
    problem = document["components"]["schemas"]["Problem"]
    assert problem["additionalProperties"] is True  # extension members
    assert set(problem["required"]) == {"type", "title", "status", "detail", "instance"}
    assert problem["properties"]["errors"]["anyOf"][0]["items"] == {"$ref": "#/components/schemas/ProblemFieldError"}
    assert "ProblemFieldError" in document["components"]["schemas"]


def test_401_and_429_document_the_header_they_always_carry() -> None:
    responses = _document()["paths"]["/things/{thing_id}"]["get"]["responses"]
    assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True
    assert responses["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 0}
    assert "headers" not in responses["404"]


def test_the_service_documents_problems_on_every_operation() -> None:
    document = create_app(make_settings("sqlite+aiosqlite:///unused.db")).openapi()
    assert "Problem" in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            errors = {status: r for status, r in operation["responses"].items() if int(status) >= 400}
            assert {"413", "500"} <= set(errors), (method, path)
            assert all(r["content"] == PROBLEM_CONTENT for r in errors.values()), (method, path)


async def test_a_401_carries_the_documented_header(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/users/me")
    helpers.problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("POST", "/api/v1/auth/register", {"json": {"email": "nope"}}, 422),
        ("POST", "/api/v1/auth/register", {"content": b"{", "headers": {"Content-Type": "application/json"}}, 400),
        ("POST", "/api/v1/auth/register", {"content": b"x", "headers": {"Content-Type": "text/plain"}}, 415),
        ("GET", "/api/v1/users/me", {}, 401),
        ("GET", "{counters}/999999", {}, 404),  # a service's NotFoundError
        ("GET", "/api/v1/nowhere", {}, 404),
    ],
)
async def test_real_problem_bodies_match_the_documented_problem(
    client: httpx.AsyncClient, counters_path: str, *, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    response = await client.request(method, path.format(counters=counters_path), **kwargs)
    assert response.status_code == status
    assert response.headers["content-type"] == helpers.PROBLEM_JSON
    problem = Problem.model_validate_json(response.content)
    assert problem.status == status
    assert problem.request_id == response.headers["x-request-id"]


def _widgets_router() -> APIRouter:
    router = APIRouter(prefix="/widgets", tags=["widgets"], route_class=ForgeRoute)

    class Widget(BaseModel):
        id: int
        name: str

    @router.get("/{widget_id}", summary="One widget", responses={404: {"description": "No such widget."}})
    async def get_widget(widget_id: ResourceID) -> Widget:
        return Widget(id=widget_id, name="spanner")

    @router.post("", status_code=201)
    async def create_widget(widget: Widget) -> Widget:
        return widget

    return router


async def test_include_flat_serves_and_documents_what_include_router_does() -> None:
    tree, flat = FastAPI(), FastAPI()
    tree.include_router(_widgets_router(), prefix="/api/v1")
    include_flat(flat, _widgets_router(), prefix="/api/v1")
    for app in (tree, flat):
        install_exception_handlers(app)
        install_problem_schema(app)
    assert flat.openapi() == tree.openapi()
    api_routes = [route for route in flat.router.routes if getattr(route, "path", "").startswith("/api/v1/")]
    assert len(api_routes) == 2
    assert all(type(route) is ForgeRoute for route in api_routes)
    for app in (tree, flat):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            assert (await client.get("/api/v1/widgets/7")).json() == {"id": 7, "name": "spanner"}
            created = await client.post("/api/v1/widgets", json={"id": 1, "name": "nut"})
            assert created.status_code == 201
            assert (
                await client.post("/api/v1/widgets", content=b"x", headers={"content-type": "text/plain"})
            ).status_code == 415


def test_include_flat_refuses_router_level_options_it_would_lose() -> None:
    guarded = APIRouter(prefix="/guarded", dependencies=[Depends(lambda: None)])
    guarded.add_api_route("/x", lambda: None)
    with pytest.raises(ValueError, match="include_router"):
        include_flat(FastAPI(), guarded)


def _id_app() -> FastAPI:
    app = FastAPI()
    install_exception_handlers(app)

    @app.get("/widgets/{widget_id}")
    async def get_widget(widget_id: ResourceID) -> int:
        return widget_id

    return app


# Each one answered 200 as widget 1 (or 10) before: Pydantic's lax int parsing takes them all.
LOOSE_SPELLINGS = ["1.0", "1.00000", "%2B1", "%201", "1%20", "01", "001", "1_0", "0_1", "%EF%BC%91", "%D9%A1", "1e0"]


@pytest.mark.parametrize("spelling", LOOSE_SPELLINGS)
async def test_a_path_id_in_any_spelling_but_canonical_decimal_is_422(spelling: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_id_app()), base_url="http://test") as client:
        response = await client.get(f"/widgets/{spelling}")
    body = helpers.problem(response, 422, "validation-error")
    assert body["errors"] == [
        {"location": "path", "pointer": "#/widget_id", "detail": body["errors"][0]["detail"], "code": "int_parsing"}
    ]
    assert "canonical decimal" in body["errors"][0]["detail"]


@pytest.mark.parametrize(("spelling", "code"), [("0", "greater_than_equal"), ("2147483648", "less_than_equal")])
async def test_canonical_ids_out_of_range_keep_their_range_errors(spelling: str, code: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_id_app()), base_url="http://test") as client:
        body = helpers.problem(await client.get(f"/widgets/{spelling}"), 422, "validation-error")
    assert [error["code"] for error in body["errors"]] == [code]


async def test_canonical_ids_are_served_and_documented_as_bounded_integers() -> None:
    app = _id_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        for canonical in (1, 10, 2**31 - 1):
            assert (await client.get(f"/widgets/{canonical}")).json() == canonical
    [parameter] = app.openapi()["paths"]["/widgets/{widget_id}"]["get"]["parameters"]
    schema = parameter["schema"]
    assert (schema["type"], schema["minimum"], schema["maximum"]) == ("integer", 1, 2**31 - 1)
    assert "canonical decimal" in parameter["description"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/api/v1/config", "/docs"])
async def test_every_get_route_answers_head_with_the_gets_headers_and_no_body(
    client: httpx.AsyncClient, path: str
) -> None:
    got = await client.get(path)
    head = await client.head(path)
    assert (head.status_code, got.status_code) == (200, 200)
    assert head.content == b""
    for name in ("content-type", "content-length", "cache-control", "etag"):
        assert head.headers.get(name) == got.headers.get(name), name


async def test_head_is_no_operation_of_its_own_and_405_lists_it_beside_get(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert not [path for path, operations in document["paths"].items() if "head" in operations]
    ids = [op["operationId"] for operations in document["paths"].values() for op in operations.values()]
    assert len(ids) == len(set(ids))
    refused = await client.post("/api/v1/config")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD"


async def test_a_204_carries_no_content_type(client: httpx.AsyncClient, user: helpers.Headers) -> None:
    created = await client.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["api:read"]}, headers=user)
    deleted = await client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=user)
    assert deleted.status_code == 204
    assert "content-type" not in deleted.headers
    assert deleted.content == b""


async def _polish(widget_id: ResourceID) -> Thing:
    return Thing(name=str(widget_id))


async def _list_widgets() -> list[Thing]:
    return []


def _match(route: ForgeRoute, path: str, *, method: str = "GET", root_path: str = "") -> Match:
    scope = {"type": "http", "method": method, "path": root_path + path, "root_path": root_path}
    match, _ = route.matches(scope)
    return match


@pytest.mark.parametrize("root_path", ["", "/behind/a/proxy"])
def test_a_route_matches_by_its_whole_path_whatever_its_literal_part_rules_out(root_path: str) -> None:
    """ForgeRoute turns a path away by the part before its first parameter before trying its regular expression:
    the same matches as FastAPI's route, with and without a root path in front of the request's path."""
    polish = ForgeRoute("/api/v1/widgets/{widget_id}/polish", _polish, methods=["POST"])
    listing = ForgeRoute("/api/v1/widgets", _list_widgets, methods=["GET"])
    cases = [
        (polish, "/api/v1/widgets/7/polish", "POST", Match.FULL),
        (polish, "/api/v1/widgets/7/polish", "GET", Match.PARTIAL),
        (polish, "/api/v1/widgets/7", "POST", Match.NONE),
        (polish, "/api/v1/gadgets/7/polish", "POST", Match.NONE),
        (listing, "/api/v1/widgets", "GET", Match.FULL),
        (listing, "/api/v1/widgets", "HEAD", Match.FULL),
        (listing, "/api/v1/widgets", "POST", Match.PARTIAL),
        (listing, "/api/v1/widgets/", "GET", Match.NONE),
        (listing, "/api/v1/widget", "GET", Match.NONE),
    ]
    for route, path, method, expected in cases:
        assert _match(route, path, method=method, root_path=root_path) is expected, (route.path, path, method)


async def test_a_stranger_with_a_bad_query_string_is_told_401_not_422(client: httpx.AsyncClient) -> None:
    """A QueryModel answers its 422 as soon as it is solved: every route that reads the caller declares it after
    the caller's dependency, so that a request without credentials learns nothing about its query."""
    document = (await client.get("/openapi.json")).json()
    guarded = [
        path
        for path, operations in document["paths"].items()
        if "get" in operations
        and "401" in operations["get"]["responses"]
        and any(parameter["name"] == "size" for parameter in operations["get"].get("parameters", []))
    ]
    assert len(guarded) >= 5  # the admin listings, the caller's sessions
    for path in guarded:
        response = await client.get(re.sub(r"\{[^}]+\}", "1", path), params={"size": "0", "page": "0"})
        assert response.status_code == 401, path
