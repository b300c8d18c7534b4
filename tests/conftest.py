"""Test fixtures: one suite, two databases.

Every test that takes `database_url` (directly or through `client`) runs on SQLite and, when
`FORGE_TEST_DATABASE_URL` is set, again on PostgreSQL. The schema is built by the migrations, so every run tests
them; the table of the tests' own resource (tests/support/counters.py) is created beside it. Each test runs inside
a transaction that is rolled back afterwards; the app's session joins it through a savepoint (SQLAlchemy: "Joining
a Session into an External Transaction"). Tests that need real commits from concurrent requests use
`committing_client`, which empties the tables afterwards.
"""

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.config import Settings
from app.core.context import AppContext
from app.core.database import committing, create_engine, get_db_session, get_read_db_session
from app.main import create_app
from app.models import metadata
from tests import helpers
from tests.support import counters, databases, processes
from tests.support.app import Running, running

# A project's own .env (a generated project has one, with production-grade secrets) must not change what the tests
# see: code under test that builds Settings() itself, as the CLI does, reads only the environment the test sets.
Settings.model_config["env_file"] = None
BASE_URL = "http://testserver"

# Test runs share the PostgreSQL server and Redis: under pytest-xdist each worker empties and recreates databases of
# its own (FORGE_TEST_DATABASE_URL's name plus the worker's id), and every test process keeps to its own Redis keys
# and pub/sub channel, which no database number separates (another worker's or run's message would be received).
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
TEST_RUN_ID = uuid.uuid4().hex[:12]
TEST_REDIS_PREFIX = f"forge-test:{TEST_RUN_ID}:"
TEST_ENDPOINTS_CHANNEL = f"{TEST_REDIS_PREFIX}endpoints"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Test settings: explicit values only (no .env), and cheap Argon2 parameters so that the suite stays fast."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "password_hash_memory_kib": 1024,
        "password_hash_iterations": 1,
        "log_level": "WARNING",
        "encryption_keys": TEST_ENCRYPTION_KEY,
        "blind_index_key": TEST_BLIND_INDEX_KEY,
        # Generous limits, so that tests of other features can register and log in freely; the rate-limit tests
        # set their own.
        "rate_limit_default": "100000/minute",
        "rate_limit_login": "100000/minute",
        "rate_limit_login_account": "100000/minute",
        "rate_limit_register": "100000/minute",
        "rate_limit_auth_failures": "100000/minute",
        # Each test's writes stay in its rolled-back transaction, invisible to other connections: an instance
        # checking the stored registry version would undo the test's own endpoint specs. The cross-instance
        # tests turn it on.
        "dynamic_endpoints_sync_seconds": 0,
        "dynamic_endpoints_channel": TEST_ENDPOINTS_CHANNEL,
        "rate_limit_key_prefix": f"{TEST_REDIS_PREFIX}rl:",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


# Fixed test keys (urlsafe base64 of 32 bytes), so that tests never generate key files.
TEST_ENCRYPTION_KEY = "9aEJGeHjd-o4ogX49IH5QorLEM-vd5-E_S7e556RU0c="
TEST_OTHER_ENCRYPTION_KEY = "GVxmgdhnbQoy8lU2JIdGcXcCwdVQGlZmld9beLaB3UE="
TEST_BLIND_INDEX_KEY = "HXRkzhTTCVk55nJfO3nNxMZQCGkY_j1kwaEndvN1bw0="

# Settings that production accepts: real, distinct secrets.
PRODUCTION_SECRETS: dict[str, Any] = {
    "environment": "production",
    "encryption_keys": TEST_ENCRYPTION_KEY,
    "blind_index_key": TEST_BLIND_INDEX_KEY,
    "secret_key": "qEdHwnHqRdJgMUn3NPAano4vfhxPZgsMFwmmopGqAgvk28_FjBf0bygjCKep4Lh4",
    "api_key_pepper": "mj_fhhnQkW0XzQT5UHxXak805Xz5iBflWeAIXfTQJIK49scqrQpq7giZyXgTUc2j",
}


def service_url_or_skip(variable: str, service: str) -> str:
    """The URL in `variable`; without it the test skips, or fails under FORGE_REQUIRE_SERVICES=1 (CI)."""
    url = os.environ.get(variable)
    if url:
        return databases.for_worker(url, XDIST_WORKER) if variable == "FORGE_TEST_DATABASE_URL" else url
    return processes.unavailable(f"{variable} is not set: {service} tests need a server (see README)")


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

    async def session_in_test_transaction() -> AsyncIterator[AsyncSession]:
        session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        async with committing(session) as joined:
            yield joined

    app.dependency_overrides[get_db_session] = session_in_test_transaction
    app.dependency_overrides[get_read_db_session] = session_in_test_transaction
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as http:
        yield http
    app.dependency_overrides.clear()


@pytest.fixture
async def committing_client(started: Running, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests commit for real (for concurrency tests); the tables are emptied afterwards."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as http:
        yield http
    async with engine.begin() as conn:
        for table in [*reversed(metadata.sorted_tables), *counters.metadata.sorted_tables]:
            await conn.execute(delete(table))


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
