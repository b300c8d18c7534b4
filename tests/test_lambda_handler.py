"""The AWS Lambda handler, invoked with API Gateway events as AWS sends them, through the whole app on SQLite.

Each test configures the app through FORGE_* environment variables (as Lambda does), on its own migrated SQLite
file, and builds its own `LambdaHandler` around `create_app()`, which reads them.
"""

import asyncio
import base64
import gzip
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from sqlalchemy import event as sa_event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool, QueuePool

from app.core import migrations
from app.core.context import AppContext
from app.core.migrations import SchemaMismatchError
from app.lambda_handler import LambdaHandler
from app.main import create_app
from tests.helpers import PASSWORD, PROBLEM_JSON, unique_email
from tests.support.aws_lambda import ApiFormat, FakeContext, body_bytes, event, header
from tests.support.otlp import otlp_receiver
from tests.support.settings import TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEY

APIS: list[ApiFormat] = ["rest-v1", "http-v2"]
type MakeHandler = Callable[[], LambdaHandler]


def configure(monkeypatch: pytest.MonkeyPatch, database_url: str, **more: str) -> None:
    """The environment a Lambda function would be given."""
    environment = {
        "FORGE_ENVIRONMENT": "test",
        "FORGE_DATABASE_URL": database_url,
        "FORGE_PASSWORD_HASH_MEMORY_KIB": "1024",
        "FORGE_PASSWORD_HASH_ITERATIONS": "1",
        "FORGE_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        "FORGE_BLIND_INDEX_KEY": TEST_BLIND_INDEX_KEY,
        "FORGE_LOG_LEVEL": "WARNING",
        "FORGE_RATE_LIMIT_DEFAULT": "100000/minute",
        "FORGE_RATE_LIMIT_LOGIN": "100000/minute",
        "FORGE_RATE_LIMIT_LOGIN_ACCOUNT": "100000/minute",
        "FORGE_RATE_LIMIT_REGISTER": "100000/minute",
        # What Lambda's own default is (AWS_LAMBDA_FUNCTION_NAME, set by one test only, would also change the pool):
        # no embedded job worker, whose polls for the app's job types would hold connections these tests count.
        "FORGE_JOBS_RUN_IN_SERVER": "false",
        **more,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite file (not yet migrated), configured through the environment."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'lambda.db'}"
    configure(monkeypatch, url)
    return url


@pytest.fixture
def migrated(sqlite_url: str) -> str:
    migrations.upgrade(sqlite_url)
    return sqlite_url


@pytest.fixture
def make_handler() -> Iterator[MakeHandler]:
    """Handlers around apps built from the environment; each is shut down (lifespan exit, loop closed) afterwards."""
    handlers: list[LambdaHandler] = []

    def make() -> LambdaHandler:
        handlers.append(LambdaHandler(create_app()))
        return handlers[-1]

    yield make
    for handler in handlers:
        handler.close()


@pytest.fixture
def handler(migrated: str, make_handler: MakeHandler) -> LambdaHandler:
    return make_handler()


def invoke(handler: LambdaHandler, api: ApiFormat, method: str, path: str, **request: Any) -> dict[str, Any]:
    return handler(event(api, method, path, **request), FakeContext())


def json_body(response: dict[str, Any]) -> Any:
    return json.loads(body_bytes(response))


def register_and_login(handler: LambdaHandler, api: ApiFormat, *, base64_form: bool) -> str:
    email = unique_email("lambda")
    registered = invoke(
        handler,
        api,
        "POST",
        "/api/v1/auth/register",
        headers={"content-type": "application/json"},
        body=json.dumps({"email": email, "password": PASSWORD}).encode(),
    )
    assert registered["statusCode"] == 201, registered
    assert json_body(registered)["email"] == email
    token = invoke(
        handler,
        api,
        "POST",
        "/api/v1/auth/token",
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=urlencode({"username": email, "password": PASSWORD}).encode(),
        base64_encoded=base64_form,  # HTTP APIs send form bodies base64-encoded
    )
    assert token["statusCode"] == 200, token
    access_token: str = json_body(token)["access_token"]
    return access_token


@pytest.mark.parametrize("api", APIS)
def test_register_log_in_and_read_yourself(handler: LambdaHandler, api: ApiFormat) -> None:
    token = register_and_login(handler, api, base64_form=api == "http-v2")
    me = invoke(handler, api, "GET", "/api/v1/users/me", headers={"authorization": f"Bearer {token}"})
    assert me["statusCode"] == 200
    assert me["isBase64Encoded"] is False
    assert header(me, "content-type") == "application/json"
    assert json_body(me)["email"].startswith("lambda")
    assert header(me, "x-request-id")  # the request middleware ran


@pytest.mark.parametrize("api", APIS)
def test_a_listing_with_a_query_string(migrated: str, handler: LambdaHandler, api: ApiFormat) -> None:
    token = register_and_login(handler, api, base64_form=False)
    with sqlite3.connect(make_url(migrated).database or "") as connection:  # an administrator lists the users
        connection.execute("UPDATE user_account SET role = 'admin'")
    admin = {"authorization": f"Bearer {token}"}
    response = invoke(handler, api, "GET", "/api/v1/users", query={"page": "1", "size": "5"}, headers=admin)
    assert response["statusCode"] == 200, response
    page = json_body(response)
    assert len(page["items"]) == 1
    assert page["size"] == 5
    too_big = invoke(handler, api, "GET", "/api/v1/users", query={"size": "100000"}, headers=admin)
    assert too_big["statusCode"] == 422  # the query string reached the app


@pytest.mark.parametrize("api", APIS)
def test_health_probes(handler: LambdaHandler, api: ApiFormat) -> None:
    assert json_body(invoke(handler, api, "GET", "/healthz")) == {"status": "ok"}
    ready = invoke(handler, api, "GET", "/readyz")
    assert json_body(ready) == {"status": "ready", "checks": {"database": "ok"}}


@pytest.mark.parametrize("api", APIS)
def test_a_base64_encoded_request_body_round_trips_through_the_app_and_the_database(
    handler: LambdaHandler, api: ApiFormat
) -> None:
    # API Gateway base64-encodes bodies it treats as binary (HTTP APIs: any it does not know as text). Non-ASCII
    # UTF-8, a character outside the BMP included, shows the bytes arrive as sent, not re-decoded on the way.
    email, name = unique_email("b64"), "Zoë Ångström-Łukasiewicz ☕ 𝄞"
    raw = json.dumps({"email": email, "password": PASSWORD, "full_name": name}, ensure_ascii=False).encode()
    assert not raw.isascii()
    created = invoke(
        handler,
        api,
        "POST",
        "/api/v1/auth/register",
        headers={"content-type": "application/json; charset=utf-8"},
        body=raw,
        base64_encoded=True,
    )
    assert created["statusCode"] == 201, created
    assert json_body(created)["email"] == email
    assert json_body(created)["full_name"] == name
    form = urlencode({"username": email, "password": PASSWORD}).encode()
    token = invoke(
        handler,
        api,
        "POST",
        "/api/v1/auth/token",
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=form,
        base64_encoded=True,
    )
    assert token["statusCode"] == 200, token
    bearer = {"authorization": f"Bearer {json_body(token)['access_token']}"}
    me = invoke(handler, api, "GET", "/api/v1/users/me", headers=bearer)
    assert me["statusCode"] == 200, me
    assert json_body(me)["full_name"] == name  # stored and read back exactly


@pytest.mark.parametrize("api", APIS)
def test_a_binary_body_gets_a_problem_that_stays_text(handler: LambdaHandler, api: ApiFormat) -> None:
    response = invoke(
        handler,
        api,
        "POST",
        "/api/v1/auth/register",
        headers={"content-type": "application/octet-stream"},
        body=bytes(range(256)),
        base64_encoded=True,
    )
    assert response["statusCode"] == 415
    assert header(response, "content-type") == PROBLEM_JSON
    # Problem details go back as text: a REST API without binary media types would pass base64 on to clients.
    assert response["isBase64Encoded"] is False
    assert json.loads(response["body"])["status"] == 415


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(("path", "status"), [("/api/v1/nowhere", 404), ("/api/v1/users/me", 401)])
def test_errors_are_problem_details(handler: LambdaHandler, api: ApiFormat, path: str, status: int) -> None:
    response = invoke(handler, api, "GET", path)
    assert response["statusCode"] == status
    assert header(response, "content-type") == PROBLEM_JSON
    problem = json.loads(response["body"])
    assert problem["status"] == status
    assert problem["instance"] == path


@pytest.mark.parametrize("api", APIS)
def test_a_gzipped_response_is_base64_and_decompresses_to_the_json(handler: LambdaHandler, api: ApiFormat) -> None:
    plain = invoke(handler, api, "GET", "/openapi.json")
    assert plain["isBase64Encoded"] is False
    assert header(plain, "content-encoding") is None
    zipped = invoke(handler, api, "GET", "/openapi.json", headers={"accept-encoding": "gzip, deflate, br"})
    assert zipped["statusCode"] == 200
    assert header(zipped, "content-encoding") == "gzip"
    assert zipped["isBase64Encoded"] is True
    compressed = base64.b64decode(zipped["body"])
    assert len(compressed) < len(plain["body"])
    assert json.loads(gzip.decompress(compressed)) == json.loads(plain["body"])


def _record_loops(app: FastAPI) -> list[tuple[str, asyncio.AbstractEventLoop]]:
    """Record each lifespan entry and each request to `/loop` with the event loop it ran on."""
    seen: list[tuple[str, asyncio.AbstractEventLoop]] = []
    original = app.router.lifespan_context

    @asynccontextmanager
    async def recorded(application: FastAPI) -> AsyncIterator[Any]:
        seen.append(("lifespan", asyncio.get_running_loop()))
        async with original(application) as state:
            yield state

    async def loop_probe() -> dict[str, str]:
        seen.append(("request", asyncio.get_running_loop()))
        return {}

    app.router.lifespan_context = recorded
    app.add_api_route("/loop", loop_probe)
    return seen


def _context(handler: LambdaHandler) -> AppContext:
    """The context of the handler's started app."""
    assert handler.context is not None, "the handler has not started the app"
    return handler.context


class _Connections:
    """DBAPI connections the engine opened and closed (pool events)."""

    def __init__(self, context: AppContext) -> None:
        self.opened = self.closed = 0
        engine = context.database.engine.sync_engine
        sa_event.listen(engine, "connect", self._on_connect)
        sa_event.listen(engine, "close", self._on_close)

    def _on_connect(self, *_: object) -> None:
        self.opened += 1

    def _on_close(self, *_: object) -> None:
        self.closed += 1

    @property
    def open(self) -> int:
        return self.opened - self.closed


def test_start_up_runs_once_and_every_invocation_runs_on_its_loop(migrated: str, make_handler: MakeHandler) -> None:
    handler = make_handler()
    seen = _record_loops(handler.app)
    assert not handler.started
    assert invoke(handler, "http-v2", "GET", "/healthz")["statusCode"] == 200
    database = _context(handler).database
    for api in APIS * 3:
        assert invoke(handler, api, "GET", "/loop")["statusCode"] == 200
        assert invoke(handler, api, "GET", "/readyz")["statusCode"] == 200
    register_and_login(handler, "rest-v1", base64_form=False)
    assert [what for what, _ in seen] == ["lifespan"] + ["request"] * 6
    assert all(loop is handler.loop for _, loop in seen)
    assert _context(handler).database is database  # the same engine throughout


@pytest.mark.parametrize("api", APIS)
def test_the_queue_pool_reuses_the_start_up_connection_on_the_same_loop(
    migrated: str, make_handler: MakeHandler, monkeypatch: pytest.MonkeyPatch, api: ApiFormat
) -> None:
    """The connection the schema check opened at start-up serves every invocation: no pile-up."""
    monkeypatch.setenv("FORGE_DATABASE_POOL", "queue")
    # No registry poll (every 0.5 s by default): on a loaded machine an invocation outlasts its interval, and the
    # poll's own connection, checked out when the invocation ends, is not what this test counts.
    monkeypatch.setenv("FORGE_DYNAMIC_ENDPOINTS_SYNC_SECONDS", "0")
    handler = make_handler()
    invoke(handler, api, "GET", "/healthz")  # starts the app
    pool = _context(handler).database.engine.pool
    assert isinstance(pool, QueuePool)
    connections = _Connections(_context(handler))
    assert pool.checkedin() == 1  # the start-up connection, kept
    for _ in range(3):
        register_and_login(handler, api, base64_form=False)
        assert invoke(handler, api, "GET", "/readyz")["statusCode"] == 200
        assert (pool.checkedin(), pool.checkedout()) == (1, 0)
    assert connections.opened == 0
    handler.close()
    assert pool.checkedin() == 0  # the lifespan's shutdown disposed of the engine


@pytest.mark.parametrize("api", APIS)
def test_the_null_pool_leaves_no_connection_open_between_invocations(
    migrated: str, make_handler: MakeHandler, monkeypatch: pytest.MonkeyPatch, api: ApiFormat
) -> None:
    monkeypatch.setenv("FORGE_DATABASE_POOL", "null")
    handler = make_handler()
    invoke(handler, api, "GET", "/healthz")
    assert isinstance(_context(handler).database.engine.pool, NullPool)
    connections = _Connections(_context(handler))
    for invocation in range(1, 4):
        assert invoke(handler, api, "GET", "/readyz")["statusCode"] == 200
        assert connections.opened == invocation
        assert connections.open == 0


def test_on_lambda_the_pool_defaults_to_null(
    migrated: str, make_handler: MakeHandler, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "forgeapi")
    handler = make_handler()
    assert invoke(handler, "http-v2", "GET", "/readyz")["statusCode"] == 200
    assert isinstance(_context(handler).database.engine.pool, NullPool)


def test_a_failed_start_is_retried_by_the_next_invocation(sqlite_url: str, make_handler: MakeHandler) -> None:
    handler = make_handler()
    with pytest.raises(SchemaMismatchError, match="forge db upgrade"):
        invoke(handler, "rest-v1", "GET", "/healthz")
    assert not handler.started
    migrations.upgrade(sqlite_url)
    assert invoke(handler, "rest-v1", "GET", "/healthz")["statusCode"] == 200
    assert handler.started


def test_the_module_handler_serves_app_main_and_starts_nothing_at_import() -> None:
    from app import lambda_handler, main  # noqa: PLC0415

    assert lambda_handler.handler.app is main.app
    assert not lambda_handler.handler.started


@pytest.mark.parametrize("pool", ["queue", "null"])
def test_on_each_database_a_lambda_sized_pool_holds_at_most_one_connection(
    scratch_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, make_handler: MakeHandler, pool: str
) -> None:
    """On PostgreSQL too (asyncpg connections work only on the loop that opened them), with either Lambda pool."""
    url = scratch_engine.url.render_as_string(hide_password=False)
    # No registry poll: every 0.5 s of an invocation it opens a connection of its own (each time, under NullPool), so
    # that a slow invocation on a loaded machine counted one more than the requests below (10 == 9).
    configure(
        monkeypatch,
        url,
        FORGE_DATABASE_POOL=pool,
        FORGE_DATABASE_POOL_SIZE="1",
        FORGE_DATABASE_MAX_OVERFLOW="0",
        FORGE_DYNAMIC_ENDPOINTS_SYNC_SECONDS="0",
    )
    migrations.upgrade(url)
    handler = make_handler()
    invoke(handler, "http-v2", "GET", "/healthz")
    engine_pool = _context(handler).database.engine.pool
    assert isinstance(engine_pool, QueuePool if pool == "queue" else NullPool)
    connections = _Connections(_context(handler))
    for _ in range(3):
        register_and_login(handler, "http-v2", base64_form=True)
        assert invoke(handler, "rest-v1", "GET", "/readyz")["statusCode"] == 200
        assert connections.open == 0
        if isinstance(engine_pool, QueuePool):
            assert (engine_pool.checkedin(), engine_pool.checkedout()) == (1, 0)
    assert connections.opened == (0 if pool == "queue" else 9)  # queue: the start-up connection served them all


def test_spans_are_exported_before_the_invocation_returns(
    migrated: str, make_handler: MakeHandler, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lambda freezes the exporter's thread between invocations: the handler flushes before it returns."""
    with otlp_receiver() as receiver:
        monkeypatch.setenv("FORGE_OTEL_EXPORTER", "otlp")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "600000")  # the batch processor alone would wait ten minutes
        monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "600000")
        handler = make_handler()
        assert invoke(handler, "http-v2", "GET", "/api/v1/config")["statusCode"] == 200
        assert receiver.by_name("GET /api/v1/config")
        assert receiver.metric("http.server.request.duration")
