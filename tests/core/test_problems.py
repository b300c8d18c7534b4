"""Every error is RFC 9457 problem+json, with the right status, and no internals."""

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.core.context import AppContext
from app.core.database import DBSession
from app.core.exceptions import ConflictError, ForgeError
from app.core.problems import Problem, problem_type
from app.main import create_app
from tests.support.problems import assert_problem
from tests.support.settings import make_settings


async def test_unknown_route_is_404(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/api/v1/nothing-here"), 404)
    assert body["instance"] == "/api/v1/nothing-here"
    assert body["type"] == "about:blank"


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/healthz")
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET, HEAD"


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 400)
    assert body["type"] == "urn:forgeapi:problem:malformed-json"


async def test_json_nan_literal_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register", content=b'{"email": NaN}', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
async def test_a_json_operation_refuses_other_media_types_with_415(
    client: httpx.AsyncClient, content_type: str
) -> None:
    response = await client.post("/api/v1/auth/register", content=b"{}", headers={"content-type": content_type})
    body = assert_problem(response, 415)
    assert content_type in str(body["detail"])


async def test_a_json_body_without_content_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/register", content=b'{"email": "a@b.io"}')
    assert_problem(response, 415)


async def test_validation_errors_list_each_field_with_a_pointer_and_never_echo_input(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/v1/auth/register", json={"email": "not-an-email", "password": "tiny-secret", "role": "admin"}
    )
    body = assert_problem(response, 422)
    errors = body["errors"]
    assert isinstance(errors, list)
    assert {e["pointer"] for e in errors} == {"#/email", "#/password", "#/role"}
    assert all(e["location"] == "body" for e in errors)
    assert "tiny-secret" not in response.text


async def test_query_validation_errors_point_at_the_parameter(client: httpx.AsyncClient, counters_path: str) -> None:
    body = assert_problem(await client.get(counters_path, params={"size": 101}), 422)
    assert body["errors"] == [
        {
            "location": "query",
            "pointer": "#/size",
            "detail": "Input should be less than or equal to 100",
            "code": "less_than_equal",
        }
    ]


async def test_oversized_body_is_413_before_the_app_reads_it(context: AppContext, client: httpx.AsyncClient) -> None:
    limit = context.settings.max_body_bytes
    response = await client.post(
        "/api/v1/auth/register", content=b"x" * (limit + 1), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)


async def test_oversized_streamed_body_is_413(context: AppContext, client: httpx.AsyncClient) -> None:
    limit = context.settings.max_body_bytes

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * (limit // 2 + 1)

    response = await client.post(
        "/api/v1/auth/register",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 413)


async def test_unexpected_exception_is_500_without_internals_and_logged_with_request_id(
    app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/test-only/crash")
    async def crash() -> None:
        msg = "secret internals: SELECT password FROM user_account"
        raise RuntimeError(msg)

    with caplog.at_level(logging.ERROR, logger="app.errors"):
        response = await client.get("/test-only/crash", headers={"x-request-id": "trace-me-0001"})
    body = assert_problem(response, 500)
    assert body["request_id"] == "trace-me-0001"
    assert "SELECT" not in response.text
    assert "Traceback" not in response.text
    logged = [r for r in caplog.records if r.name == "app.errors"]
    assert logged
    assert logged[0].msg["request_id"] == "trace-me-0001"  # type: ignore[index]
    assert logged[0].exc_info is not None


async def test_domain_errors_map_to_their_status(app: FastAPI, client: httpx.AsyncClient) -> None:
    @app.get("/test-only/conflict")
    async def conflict() -> None:
        msg = "already there"
        raise ConflictError(msg, resource="thing")

    body = assert_problem(await client.get("/test-only/conflict"), 409)
    assert body["detail"] == "already there"
    assert body["resource"] == "thing"
    assert body["type"] == "urn:forgeapi:problem:conflict"


async def test_a_lost_database_is_503_without_sql(app: FastAPI, client: httpx.AsyncClient) -> None:
    @app.get("/test-only/db-down")
    async def db_down() -> None:
        raise OperationalError("SELECT secret FROM somewhere", {}, ConnectionResetError("gone"))

    response = await client.get("/test-only/db-down")
    assert_problem(response, 503)
    assert response.headers["retry-after"] == "1"
    assert "SELECT" not in response.text


async def test_a_database_bug_is_500_without_sql(app: FastAPI, client: httpx.AsyncClient) -> None:
    @app.get("/test-only/bad-sql")
    async def bad_sql(session: DBSession) -> None:
        await session.execute(text("SELECT no_such_column FROM user_account"))

    response = await client.get("/test-only/bad-sql")
    assert_problem(response, 500)
    assert "no_such_column" not in response.text


@pytest.mark.parametrize(
    "body",
    [b'{"email": NaN}', b'{"email": "\xff\xfe"}', b"[" * 100_000 + b"]" * 100_000, b'{"n": ' + b"9" * 5000 + b"}"],
    ids=["nan", "bad-utf8", "deep-nesting", "huge-integer"],
)
async def test_every_kind_of_malformed_json_is_the_malformed_json_problem(
    client: httpx.AsyncClient, body: bytes
) -> None:
    response = await client.post("/api/v1/auth/register", content=body, headers={"content-type": "application/json"})
    assert assert_problem(response, 400)["type"] == "urn:forgeapi:problem:malformed-json"


async def test_a_lone_surrogate_in_a_string_is_400_not_500(client: httpx.AsyncClient) -> None:
    body = b'{"email": "a@example.com", "password": "correct horse \\ud800 battery"}'
    response = await client.post("/api/v1/auth/register", content=body, headers={"content-type": "application/json"})
    assert assert_problem(response, 400)["type"] == "urn:forgeapi:problem:malformed-json"
    paired = b'{"email": "b@example.com", "password": "correct horse \\ud83d\\ude00 battery"}'
    ok = await client.post("/api/v1/auth/register", content=paired, headers={"content-type": "application/json"})
    assert ok.status_code == 201  # a valid surrogate pair is just an emoji


async def test_nul_characters_are_refused_with_a_pointer_on_every_database(client: httpx.AsyncClient) -> None:
    """SQLite stored them, PostgreSQL refused them without a pointer: validation refuses them on both."""
    register = await client.post(
        "/api/v1/auth/register", json={"email": "nul@example.com", "password": "x" * 12, "full_name": "a\x00b"}
    )
    login = await client.post("/api/v1/auth/token", data={"username": "a\x00@example.com", "password": "x" * 12})
    for response, pointer in ((register, "#/full_name"), (login, "#/username")):
        assert_problem(response, 422)
        assert [(e["pointer"], e["code"]) for e in response.json()["errors"]] == [(pointer, "string_nul")]


async def test_405_allows_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    response = await client.put("/api/v1/api-keys")
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET, HEAD, POST"


def test_the_core_problem_knows_no_feature_members() -> None:
    # A feature's extension members (products' `product_id`...) are declared on its own error class.
    assert set(Problem.model_fields) == {
        "type", "title", "status", "detail", "instance", "request_id", "errors", "sources", "retry_after", "checks",
    }  # fmt: skip


def _error_classes(base: type[ForgeError]) -> list[type[ForgeError]]:
    return [base, *(error for subclass in base.__subclasses__() for error in _error_classes(subclass))]


def test_the_document_names_every_problem_type_in_an_enum_for_generated_clients() -> None:
    schemas = create_app(make_settings("sqlite+aiosqlite:///unused.db")).openapi()["components"]["schemas"]
    assert schemas["Problem"]["properties"]["type"] == {"$ref": "#/components/schemas/ProblemType"}
    enum = schemas["ProblemType"]
    types = dict(zip(enum["x-enum-varnames"], enum["enum"], strict=True))
    assert types["ABOUT_BLANK"] == "about:blank"  # 404 for no route, 405
    # The slugs the handlers send without an error class of their own, and one a feature declares.
    for name in ("VALIDATION_ERROR", "MALFORMED_JSON", "INTERNAL_ERROR", "MFA_ALREADY_ENABLED"):
        assert types[name] == "urn:forgeapi:problem:" + name.lower().replace("_", "-")
    assert {problem_type(error.slug) for error in _error_classes(ForgeError)} <= set(types.values())
