"""Test fixtures: one suite, two databases.

Every test that takes `database_url` (directly or through `client`) runs on SQLite and, when
`FORGE_TEST_DATABASE_URL` is set, again on PostgreSQL. The schema is built by the migrations, so every run tests
them; the table of the tests' own resource (tests/support/counters.py) is created beside it. Each test runs inside
a transaction that is rolled back afterwards; the app's session joins it through a savepoint (SQLAlchemy: "Joining
a Session into an External Transaction"). Tests that need real commits from concurrent requests use
`committing_client`, which empties the tables afterwards.
"""

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import nullcontext
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.config import Settings
from app.core.context import AppContext
from app.core.database import (
    committing,
    create_engine,
    get_db_session,
    get_read_db_session,
    get_reader,
    get_writing_db_session,
)
from app.core.reads import Reader
from app.main import create_app
from tests import helpers
from tests.support import console, counters, databases, smtp
from tests.support.app import Running, running
from tests.support.mailing import Mailing, mailing_app
from tests.support.otlp import OtlpReceiver, otlp_receiver
from tests.support.settings import BASE_URL, make_settings, service_url_or_skip

# The admin console in a real browser: its served console, pages, and screenshots of failed browser tests.
pytest_plugins = ["tests.support.console_browser"]

# A project's own .env (a generated project has one, with production-grade secrets) must not change what the tests
# see: code under test that builds Settings() itself, as the CLI does, reads only the environment the test sets.
Settings.model_config["env_file"] = None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Schemathesis gives each API operation's test (`test_fuzz_as_admin[GET /healthz]`) its function's node id;
    pytest-xdist's loadgroup scheduler keys tests by node id and would run one test per fuzz function, silently.
    Each gets the node id that its name implies, as pytest's own parametrised tests have."""
    for item in items:
        if item.parent is not None and item.nodeid.rpartition("::")[2] != item.name:
            item._id = item.parent.id.child(item.name)  # pytest's own derivation (Node.__init__), private


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("sqlite") / "forgeapi-test.db"
        return f"sqlite+aiosqlite:///{path}"
    return service_url_or_skip("FORGE_TEST_DATABASE_URL", "PostgreSQL")


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The test database, emptied and migrated to head once per backend, with the tests' counters beside."""
    await databases.recreate(database_url)
    engine = create_engine(make_settings(database_url))
    await databases.upgrade(engine)
    await counters.create_table(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def scratch_engine(database_url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty database beside the shared test database, so that walking migrations disturbs nobody."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        scratch = f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
    else:
        scratch = url.set(database=f"{url.database}_scratch").render_as_string(hide_password=False)
    await databases.recreate(scratch)
    engine = create_engine(make_settings(scratch))
    yield engine
    await engine.dispose()


@pytest.fixture
def settings(database_url: str, request: pytest.FixtureRequest) -> Settings:
    """The suite's settings, plus the overrides of the test's `settings` markers (module's, then the test's own)."""
    overrides: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("settings"))):  # closest last: it wins
        overrides.update(marker.kwargs)
    return make_settings(database_url, **overrides)


@pytest.fixture
async def started(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Running]:  # the engine: migrated first
    async with running(create_app(settings)) as started:
        yield started


@pytest.fixture
def app(started: Running) -> FastAPI:
    return started.app


@pytest.fixture
def context(started: Running) -> AppContext:
    """The started app's context (its database, hashers, limiter...)."""
    return started.context


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        yield conn
        await transaction.rollback()


@pytest.fixture
async def db_session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """A session on the test's transaction, for arranging data and inspecting results directly."""
    async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False) as s:
        yield s


@pytest.fixture
async def client(app: FastAPI, started: Running, connection: AsyncConnection) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app, whose request sessions join the test's rolled-back transaction."""

    # One session per request, whichever session dependencies its route takes (a GET route that writes takes
    # DBSession and WritingDBSession): two sessions' savepoints on the one test connection would interleave. The
    # request's session is found through a context variable, since dynamic endpoints call the override by hand.
    in_request: ContextVar[AsyncSession | None] = ContextVar("request_test_session", default=None)

    async def session_in_test_transaction() -> AsyncIterator[AsyncSession]:
        if (shared := in_request.get()) is not None:
            yield shared
            return
        session = AsyncSession(
            bind=connection,
            join_transaction_mode="create_savepoint",
            expire_on_commit=False,
            info=dict(started.context.database.session_info),  # as the app's own sessions: its commits observed
        )
        async with committing(session) as joined:
            in_request.set(joined)
            try:
                yield joined
            finally:
                in_request.set(None)

    app.dependency_overrides[get_db_session] = session_in_test_transaction
    app.dependency_overrides[get_read_db_session] = session_in_test_transaction
    app.dependency_overrides[get_writing_db_session] = session_in_test_transaction

    on_test_connection = connection.sync_connection
    assert on_test_connection is not None
    # The read-only endpoints' statements, on the test's transaction too.
    reader = Reader(lambda: nullcontext(on_test_connection))

    async def reader_in_test_transaction() -> Reader:
        return reader

    app.dependency_overrides[get_reader] = reader_in_test_transaction
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as http:
        yield http
    app.dependency_overrides.clear()


@pytest.fixture
async def committing_client(started: Running, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests commit for real (for concurrency tests); the tables are emptied afterwards."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as http:
        yield http
    await databases.empty(engine)


@pytest.fixture
async def console_client(started: Running, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the admin console (https: its cookie is Secure) whose requests commit for real, as the console
    opens its own transactions; the tables are emptied afterwards."""
    transport = httpx.ASGITransport(app=started.asgi)
    async with httpx.AsyncClient(transport=transport, base_url=console.CONSOLE_URL) as http:
        yield http
    await databases.empty(engine)


@pytest.fixture
def counters_path(app: FastAPI) -> str:
    """The tests' own counters resource (tests/support/counters.py) mounted on the test's app: its path."""
    counters.mount(app)
    return counters.PATH


@pytest.fixture(autouse=True)
def _no_forge_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's FORGE_* variables must not change what the tests see (the test database URLs aside)."""
    for name in list(os.environ):
        if name.startswith("FORGE_") and not name.startswith(("FORGE_TEST_", "FORGE_REQUIRE_")):
            monkeypatch.delenv(name)


@pytest.fixture
async def admin(context: AppContext, client: httpx.AsyncClient, db_session: AsyncSession) -> helpers.Headers:
    """Authorization headers of a fresh administrator."""
    return await helpers.admin_headers(client, db_session, context.password_hasher)


@pytest.fixture
async def user(client: httpx.AsyncClient) -> helpers.Headers:
    """Authorization headers of a fresh, ordinary user."""
    return await helpers.user_headers(client)


@pytest.fixture
def otlp(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    """An OTLP/HTTP receiver that apps made from now on export to (OTEL_EXPORTER_OTLP_ENDPOINT points at it). An app
    exports there only when its settings say `otel_exporter="otlp"`, and only if made after this fixture: a test
    module's `started` override that takes `otlp` guarantees the order."""
    with otlp_receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        yield receiver


@pytest.fixture
async def smtp_server(tmp_path: Path) -> AsyncIterator[smtp.SmtpServer]:
    """A real SMTP server in the test's event loop, in plain text (tests/support/smtp.py); `configure(settings)`
    points an app's mail at it, and `received` holds what arrived."""
    async with smtp.serving(tmp_path) as server:
        yield server


@pytest.fixture
async def mailing(settings: Settings, smtp_server: smtp.SmtpServer, engine: AsyncEngine) -> AsyncIterator[Mailing]:
    """The app on the test's settings with its requests committed and its mail sent, by its embedded worker, to
    `smtp_server` (tests/support/mailing.py): for following mailed links. The tables are emptied afterwards."""
    async with mailing_app(settings, smtp_server, engine) as started:
        yield started
