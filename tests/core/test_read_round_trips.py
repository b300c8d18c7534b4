"""Reads cost one round-trip: no BEGIN/COMMIT around them, and a product page carries its total in the same query.

Counted at the driver: every statement SQLAlchemy sends (cursor executions) plus, on PostgreSQL, what asyncpg
itself sends for transactions (its query logger sees `BEGIN`/`COMMIT`).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import event, select

from app.core.security import PasswordHasher
from app.features.users import service as users_service
from app.features.users.models import User
from app.features.users.schemas import UserCreate
from tests import helpers
from tests.conftest import make_settings


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    engine = app.state.database.engine.sync_engine
    sent: list[str] = []

    def on_cursor(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement.split(maxsplit=1)[0].upper())

    def on_driver_query(record: Any) -> None:
        sent.append(record.query.split()[0].rstrip(";").upper())

    loggers: list[Any] = []

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and hasattr(driver, "add_query_logger"):  # asyncpg
            driver.add_query_logger(on_driver_query)
            loggers.append(driver)

    event.listen(engine, "before_cursor_execute", on_cursor)
    event.listen(engine.pool, "checkout", on_checkout)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", on_cursor)
        event.remove(engine.pool, "checkout", on_checkout)
        for driver in loggers:
            driver.remove_query_logger(on_driver_query)


async def test_a_product_read_and_a_product_page_are_one_statement_each(
    app: FastAPI, committing_client: httpx.AsyncClient
) -> None:
    client = committing_client
    admin = await helpers.committed_admin_headers(app, client)
    product = await helpers.create_product(client, admin)
    await helpers.create_product(client, admin, name="Gadget")

    with statements(app) as sent:
        assert (await client.get(f"/api/v1/products/{product['id']}")).status_code == 200
    assert [s for s in sent if s != "PREPARE"] == ["SELECT"]  # asyncpg may prepare the statement first

    with statements(app) as sent:
        page = await client.get("/api/v1/products", params={"size": 1, "page": 2})
    assert page.status_code == 200
    assert (page.json()["total"], len(page.json()["items"])) == (2, 1)
    assert [s for s in sent if s != "PREPARE"] == ["SELECT"]


async def test_a_page_past_the_end_still_knows_the_total(app: FastAPI, committing_client: httpx.AsyncClient) -> None:
    client = committing_client
    admin = await helpers.committed_admin_headers(app, client)
    await helpers.create_product(client, admin)
    page = await client.get("/api/v1/products", params={"size": 10, "page": 5})
    assert page.status_code == 200
    assert (page.json()["total"], page.json()["items"]) == (1, [])


async def test_writes_still_run_in_a_transaction(app: FastAPI, committing_client: httpx.AsyncClient) -> None:
    client = committing_client
    admin = await helpers.committed_admin_headers(app, client)
    with statements(app) as sent:
        await helpers.create_product(client, admin)
    assert "BEGIN" in sent
    assert "INSERT" in sent


async def test_best_effort_writes_of_reading_requests_are_stored(
    app: FastAPI, committing_client: httpx.AsyncClient
) -> None:
    """An API key's "last used" mark (a GET) and a password rehash (login reads mostly): written without a
    transaction around the request, each on its own."""
    client = committing_client
    user = await helpers.user_headers(client)
    issued = await client.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["orders:read"]}, headers=user)
    assert issued.status_code == 201, issued.text
    key = {"X-API-Key": issued.json()["key"]}
    assert (await client.get("/api/v1/orders", headers=key)).status_code == 200
    [listed] = (await client.get("/api/v1/api-keys", headers=user)).json()
    assert listed["last_used_at"] is not None

    email = helpers.unique_email("rehash")
    stronger = PasswordHasher(make_settings("sqlite+aiosqlite:///unused.db", password_hash_iterations=2))
    async with app.state.database.session(writes=True) as session, session.begin():
        data = UserCreate(email=email, password=SecretStr(helpers.PASSWORD))
        created = await users_service.register_user(session, data=data, hasher=stronger)
        old_hash = created.hashed_password
    assert (await helpers.login(client, email))["access_token"]
    async with app.state.database.session(writes=False) as session:
        stored = (await session.execute(select(User.hashed_password).where(User.email == email))).scalar_one()
    assert stored != old_hash  # rehashed to the app's parameters
    assert (await helpers.login(client, email))["access_token"]
