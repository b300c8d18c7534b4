"""Reads cost one round-trip: no BEGIN/COMMIT around them, and no ping of the pooled connection before them. (That
a page carries its total in the same statement is each repository's own, tested with its feature.)

Counted at the driver (tests.support.databases.statements_sent): every statement SQLAlchemy sends plus, on
PostgreSQL, what asyncpg itself sends for transactions and pings (its query logger sees `BEGIN`/`COMMIT`/`;`);
`everything_sent` also sees what the pool sends while checking a connection out.
"""

import httpx
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select

from app.core.context import AppContext
from app.core.security import PasswordHasher
from app.features.users import service as users_service
from app.features.users.models import User
from app.features.users.schemas import UserCreate
from tests import helpers
from tests.support import databases
from tests.support.settings import make_settings


async def test_a_read_is_one_statement_without_begin_or_commit(
    context: AppContext, committing_client: httpx.AsyncClient, counters_path: str
) -> None:
    client = committing_client
    admin = await helpers.committed_admin_headers(context, client)
    created = (await client.post(counters_path, json={"name": "read"}, headers=admin)).json()

    with databases.statements_sent(context.database.engine) as sent:
        assert (await client.get(f"{counters_path}/{created['id']}")).status_code == 200
    assert [s for s in sent if s != "PREPARE"] == ["SELECT"]  # asyncpg may prepare the statement first


async def test_nothing_but_the_statement_reaches_the_driver_not_even_a_ping(
    context: AppContext, committing_client: httpx.AsyncClient, counters_path: str
) -> None:
    """A pooled connection is checked at checkout without a round trip (core/database.py). SQLAlchemy's pre-ping
    sent BEGIN, `;` and ROLLBACK there first: three round trips of four."""
    client = committing_client
    admin = await helpers.committed_admin_headers(context, client)
    created = (await client.post(counters_path, json={"name": "read"}, headers=admin)).json()

    async with databases.everything_sent(context.database.engine) as sent:
        for path in (f"{counters_path}/{created['id']}", counters_path):  # `Reads`, then a GET's `DBSession`
            assert (await client.get(path)).status_code == 200  # a new connection (never pinged) prepares it
            sent.clear()
            assert (await client.get(path)).status_code == 200  # the same connection, from the pool
            assert sent == ["SELECT"], path


async def test_writes_still_run_in_a_transaction(
    context: AppContext, committing_client: httpx.AsyncClient, counters_path: str
) -> None:
    client = committing_client
    admin = await helpers.committed_admin_headers(context, client)
    with databases.statements_sent(context.database.engine) as sent:
        assert (await client.post(counters_path, json={"name": "write"}, headers=admin)).status_code == 201
    assert "BEGIN" in sent
    assert "INSERT" in sent


async def test_best_effort_writes_of_reading_requests_are_stored(
    app: FastAPI, context: AppContext, committing_client: httpx.AsyncClient, counters_path: str
) -> None:
    """An API key's "last used" mark (a GET) and a password rehash (login reads mostly): written without a
    transaction around the request, each on its own."""
    client = committing_client
    user = await helpers.user_headers(client)
    issued = await client.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["api:read"]}, headers=user)
    assert issued.status_code == 201, issued.text
    key = {"X-API-Key": issued.json()["key"]}
    assert (await client.get(f"{counters_path}/caller", headers=key)).status_code == 200
    [listed] = (await client.get("/api/v1/api-keys", headers=user)).json()
    assert listed["last_used_at"] is not None

    email = helpers.unique_email("rehash")
    stronger = PasswordHasher(make_settings("sqlite+aiosqlite:///unused.db", password_hash_iterations=2))
    async with context.database.session(writes=True) as session, session.begin():
        data = UserCreate(email=email, password=SecretStr(helpers.PASSWORD))
        created = await users_service.register_user(session, data=data, hasher=stronger)
        old_hash = created.hashed_password
    assert (await helpers.login(client, email))["access_token"]
    async with context.database.session(writes=False) as session:
        stored = (await session.execute(select(User.hashed_password).where(User.email == email))).scalar_one()
    assert stored != old_hash  # rehashed to the app's parameters
    assert (await helpers.login(client, email))["access_token"]
