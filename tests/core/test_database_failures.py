"""A database that goes away mid-request, refuses connections or never answers: 503, never a 500 or a hang."""

import asyncio
import socket
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.database import DBSession, create_engine, is_disconnect_error
from tests.support.problems import assert_problem
from tests.support.settings import make_settings


class _ServerError(Exception):
    """A driver error carrying an SQLSTATE, as asyncpg's reach SQLAlchemy."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"server error {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "status"),
    [
        ("57P01", 503),  # terminating connection due to administrator command
        ("57P03", 503),  # the database system is shutting down / starting up
        ("08006", 503),  # connection failure
        ("53300", 503),  # too many connections
        ("40P01", 503),  # deadlock detected
        ("42703", 500),  # undefined column: a bug
    ],
)
async def test_generic_driver_errors_are_503_when_transient_and_500_otherwise(
    app: FastAPI, client: httpx.AsyncClient, sqlstate: str, status: int
) -> None:
    @app.get("/test-only/driver-error")
    async def driver_error() -> None:
        raise DBAPIError("SELECT secret FROM somewhere", {}, _ServerError(sqlstate))

    response = await client.get("/test-only/driver-error")
    assert_problem(response, status)
    assert "SELECT" not in response.text


async def test_a_timeout_reaching_the_top_is_503(app: FastAPI, client: httpx.AsyncClient) -> None:
    @app.get("/test-only/timeout")
    async def timeout() -> None:
        raise TimeoutError

    assert_problem(await client.get("/test-only/timeout"), 503)


def test_errors_that_leave_a_connection_unusable_are_disconnects() -> None:
    assert is_disconnect_error(_ServerError("57P01"))
    assert is_disconnect_error(_ServerError("08003"))
    broken = RuntimeError("wrapped")
    broken.__cause__ = asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress")
    assert is_disconnect_error(broken)
    assert not is_disconnect_error(_ServerError("23505"))
    assert not is_disconnect_error(_ServerError("40P01"))  # transient, but the connection is fine


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (a hung server, a black-holed network)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


async def test_connecting_to_a_server_that_never_answers_times_out(silent_server: int) -> None:
    settings = make_settings(
        f"postgresql+asyncpg://postgres@127.0.0.1:{silent_server}/forge", database_connect_timeout=0.5
    )
    engine = create_engine(settings)
    try:
        # asyncpg's own default would wait 60 s; the outer deadline only keeps a regression from hanging the suite.
        async with asyncio.timeout(20):
            with pytest.raises(TimeoutError):
                async with engine.connect():
                    pass
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # a server-side backend to terminate
async def test_a_connection_terminated_mid_request_is_503_and_the_next_request_succeeds(
    app: FastAPI, committing_client: httpx.AsyncClient, engine: AsyncEngine, database_url: str
) -> None:

    @app.get("/test-only/terminated")
    async def terminated(session: DBSession) -> None:
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with engine.connect() as admin:  # as `pg_ctl stop -m fast` does to every backend
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await session.execute(text("SELECT 1"))

    @app.get("/test-only/alive")
    async def alive(session: DBSession) -> int:
        return int((await session.execute(text("SELECT 1"))).scalar_one())

    response = await committing_client.get("/test-only/terminated")
    assert_problem(response, 503)
    for _ in range(3):  # every pooled connection is usable: the terminated one was not put back
        assert (await committing_client.get("/test-only/alive")).status_code == 200
