"""Schemathesis against `/openapi.json`: every operation, anonymous and with credentials (issue #8).

The app runs in-process, with its lifespan, on a SQLite file of its own (so that the fuzzer's writes, which
commit, disturb no other test). Schemathesis drives it through its own ASGI client, whose event loop runs in a
thread of its own: the app's engine is created there by the lifespan, and only used there.

Each operation is fuzzed with a bounded, seeded number of examples (examples, coverage and fuzzing phases), and
every response must pass: no 5xx, a documented status code, a documented content type, a body matching the
documented schema for that status and content type, and the documented response headers.

SQLite by default: the database is not what is under test here (the rest of the suite runs every query on both
backends), and a second run on PostgreSQL would double the time for little; FORGE_TEST_FUZZ_DATABASE_URL points the
fuzzer at a PostgreSQL database (recreated) instead.
"""

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import schemathesis
from fastapi import FastAPI
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import create_engine
from app.core.security import PasswordHasher
from app.features.api_keys.models import Scope
from app.features.users import service as users_service
from app.features.users.models import UserRole
from app.features.users.schemas import UserCreate
from app.main import create_app
from tests import helpers
from tests.support import databases
from tests.support.settings import make_settings

# CI's bounded, reproducible run; docs/operations.md#fuzzing shows a longer hunt, and one on PostgreSQL.
MAX_EXAMPLES = int(os.environ.get("FORGE_TEST_FUZZ_EXAMPLES", "15"))
SEED = int(os.environ.get("FORGE_TEST_FUZZ_SEED", "20261125"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
FUZZ_ADMIN = "fuzz-admin@example.com"
KEY_OWNER = "fuzz-key-owner@example.com"

type Headers = dict[str, str]
type Case = schemathesis.Case[Any]


@dataclass(frozen=True, slots=True)
class FuzzTarget:
    app: FastAPI
    credentials: dict[str, Headers]


async def _migrate_and_add_admins(url: str) -> None:
    """The schema, and two administrators (as `forge users create-admin` makes them), before the app starts."""
    settings = make_settings(url)
    engine = create_engine(settings)
    try:
        await databases.upgrade(engine)
        async with AsyncSession(engine) as session, session.begin():
            for email in (FUZZ_ADMIN, KEY_OWNER):
                data = UserCreate(email=email, password=SecretStr(helpers.PASSWORD))
                await users_service.register_user(
                    session, data=data, hasher=PasswordHasher(settings), role=UserRole.ADMIN, verified=True
                )
    finally:
        await engine.dispose()


def _login(client: asgi.ASGIClient, email: str) -> Headers:
    response = client.post("/api/v1/auth/token", data={"username": email, "password": helpers.PASSWORD})
    assert response.status_code == 200, response.text
    return helpers.bearer(response.json()["access_token"])


def _arrange(client: asgi.ASGIClient) -> dict[str, Headers]:
    """Credentials for each mode, and a few rows for the fuzzer's ids to find."""
    admin = _login(client, FUZZ_ADMIN)
    # The key belongs to another admin, so that the fuzzing admin cannot revoke it (keys are their owner's).
    owner = _login(client, KEY_OWNER)
    scopes = [scope.value for scope in Scope]
    issued = client.post("/api/v1/api-keys", json={"name": "fuzz", "scopes": scopes}, headers=owner)
    assert issued.status_code == 201, issued.text
    _seed_examples(client, admin)
    return {"anonymous": {}, "admin": admin, "api_key": {"X-API-Key": issued.json()["key"]}}


def _seed_examples(client: asgi.ASGIClient, admin: Headers) -> None:
    """Products and an order of the example features (tools/init_project.py removes this with them)."""
    for name in ("Widget", "Gadget", "Sprocket"):
        created = client.post("/api/v1/products", json={"name": name, "price": "9.99", "quantity": 1000}, headers=admin)
        assert created.status_code == 201, created.text
    order = client.post("/api/v1/orders", json={"items": [{"product_id": 1, "quantity": 1}]}, headers=admin)
    assert order.status_code == 201, order.text


@pytest.fixture(scope="module")
async def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FuzzTarget]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    url = os.environ.get("FORGE_TEST_FUZZ_DATABASE_URL") or f"sqlite+aiosqlite:///{path}"
    await databases.recreate(url)
    await _migrate_and_add_admins(url)
    app = create_app(make_settings(url))
    # Starts the lifespan in schemathesis's event loop thread, where every fuzzed request will run too.
    with asgi.get_client(cast("asgi.ASGIApp", app)) as client:
        assert client.get("/openapi.json").json() == DOCUMENT  # what the module's schema was loaded from
        credentials = _arrange(client)
    yield FuzzTarget(app=app, credentials=credentials)
    asgi.shutdown_lifespans()


# Loaded at collection time (schemathesis's lazy `from_fixture` fails on pytest 9: it sets `Item._nodeid`): the
# document does not depend on the database, and each call goes to the fixture's app, which serves the same one.
DOCUMENT = create_app(make_settings("sqlite+aiosqlite:///unused.db")).openapi()
schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=schemathesis.Config.from_dict(
        {"seed": SEED, "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"}}
    ),
)


def _fuzz(case: Case, target: FuzzTarget, mode: str) -> None:
    case.call_and_validate(app=target.app, checks=CHECKS, headers=target.credentials[mode] or None)


@schema.parametrize()
def test_fuzz_anonymous(case: Case, fuzz_target: FuzzTarget) -> None:
    _fuzz(case, fuzz_target, "anonymous")


@schema.parametrize()
def test_fuzz_as_admin(case: Case, fuzz_target: FuzzTarget) -> None:
    _fuzz(case, fuzz_target, "admin")


@schema.parametrize()
def test_fuzz_with_an_api_key(case: Case, fuzz_target: FuzzTarget) -> None:
    _fuzz(case, fuzz_target, "api_key")
