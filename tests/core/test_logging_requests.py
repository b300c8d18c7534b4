"""No secret reaches a log line of real requests: JSON logs at DEBUG, the access log on, every line captured."""

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.core.context import AppContext
from app.core.database import DBSession
from app.main import create_app
from tests import helpers
from tests.support import sessions
from tests.support.app import Running, running
from tests.support.settings import make_settings
from tests.support.upstreams import Upstreams, upstream_servers

FAILING = "/test-only/failing-statement"
# Credentials an operator put into upstream URLs (FORGE_AGGREGATE_SOURCES): basic auth and a query token.
UPSTREAM_PASSWORD = "upstream-basic-auth-pw-91c2"
UPSTREAM_TOKEN = "upstream-query-token-5d0e"


@pytest.fixture
def upstreams() -> Iterator[Upstreams]:
    with upstream_servers() as servers:
        yield servers


@pytest.fixture
def settings(database_url: str, upstreams: Upstreams) -> Settings:
    """JSON logs at DEBUG (every library's lines on), and an aggregation source whose URL carries credentials."""
    host = upstreams.base.removeprefix("http://")
    source = f"http://svc:{UPSTREAM_PASSWORD}@{host}/ok/inventory?access_token={UPSTREAM_TOKEN}&page=2"
    return make_settings(database_url, log_format="json", log_level="DEBUG", aggregate_sources={"inventory": source})


@pytest.fixture
async def log_output(settings: Settings, engine: AsyncEngine) -> AsyncIterator[tuple[Running, io.StringIO]]:
    """The suite's app, and everything its log handler writes (structlog's lines and the stdlib loggers')."""
    del engine  # requested for the migrated schema
    application = create_app(settings)
    root = logging.getLogger()
    [handler] = [h for h in root.handlers if h.get_name() == "forgeapi"]
    assert isinstance(handler, logging.StreamHandler)
    output = io.StringIO()
    handler.setStream(output)

    @application.get(FAILING)
    async def failing_statement(session: DBSession, secret: str) -> None:
        # A bug that fails in the database with a secret among the statement's parameters.
        await session.execute(text("SELECT secret FROM no_such_table WHERE secret = :secret"), {"secret": secret})

    try:
        async with running(application) as started:
            yield started, output
    finally:
        root.removeHandler(handler)
        root.setLevel(logging.WARNING)


@pytest.fixture
def started(log_output: tuple[Running, io.StringIO]) -> Running:
    return log_output[0]


def _lines(log_output: tuple[Running, io.StringIO]) -> list[str]:
    return [line for line in log_output[1].getvalue().splitlines() if line.strip()]


async def test_a_failing_statements_parameters_stay_out_of_the_log(
    client: httpx.AsyncClient, log_output: tuple[Running, io.StringIO]
) -> None:
    response = await client.get(FAILING, params={"secret": helpers.PASSWORD})
    assert response.status_code == 500
    lines = _lines(log_output)
    [error] = [json.loads(line) for line in lines if '"unhandled_error"' in line]
    assert "no_such_table" in error["exception"]  # the statement and its error are there for the operator...
    assert "parameters hidden" in error["exception"]
    assert not [line for line in lines if helpers.PASSWORD in line]  # ...its values are not


async def test_no_password_token_or_api_key_in_any_log_line(
    app: FastAPI,
    context: AppContext,
    client: httpx.AsyncClient,
    log_output: tuple[Running, io.StringIO],
    counters_path: str,
) -> None:
    email = helpers.unique_email()
    await helpers.register(client, email=email)
    first = await helpers.login(client, email)
    refreshed = (await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "ci", "scopes": ["api:read"]},
        headers=helpers.bearer(refreshed["access_token"]),
    )
    key: str = created.json()["key"]
    answers = [
        (await client.get(f"{counters_path}/caller", headers={"X-API-Key": key})).status_code,
        (
            await client.post("/api/v1/auth/token", data={"username": email, "password": "wrong " + helpers.PASSWORD})
        ).status_code,
        (await client.get("/api/v1/users/me", headers=helpers.bearer(refreshed["refresh_token"]))).status_code,
        (await client.get(FAILING, params={"secret": helpers.PASSWORD})).status_code,
        (await client.get("/api/v1/aggregate", headers=helpers.bearer(refreshed["access_token"]))).status_code,
    ]
    assert answers == [200, 401, 401, 500, 200]

    lines = _lines(log_output)
    parsed = [json.loads(line) for line in lines]  # every line is JSON, the stdlib loggers' included
    assert len([p for p in parsed if p.get("logger") == "app.access"]) == 9  # one per request
    # httpx logged the upstream call (the service runs at DEBUG), with the URL's credentials redacted.
    [upstream_call] = [p["event"] for p in parsed if p.get("logger") == "httpx" and "/ok/inventory" in p["event"]]
    assert "http://[redacted]@" in upstream_call
    assert "access_token=[redacted]&page=2" in upstream_call
    digest = context.secret_hasher.digest(key)
    secrets = {
        "password": helpers.PASSWORD,
        "access token": first["access_token"],
        "refresh token": first["refresh_token"],
        "refreshed access token": refreshed["access_token"],
        "refreshed refresh token": refreshed["refresh_token"],
        "api key": key,
        "api key body": key[4:-6],
        "api key digest": digest.hex(),
        "api key digest (repr)": repr(digest)[2:-1],
        "upstream password": UPSTREAM_PASSWORD,
        "upstream token": UPSTREAM_TOKEN,
    }
    leaks = {name: line for name, secret in secrets.items() for line in lines if secret in line}
    assert not leaks


async def test_security_events_name_the_user_and_the_request_and_never_a_token(
    client: httpx.AsyncClient, db_session: AsyncSession, log_output: tuple[Running, io.StringIO], context: AppContext
) -> None:
    email = helpers.unique_email()
    user = await helpers.register(client, email=email)
    wrong = await client.post("/api/v1/auth/token", data={"username": email, "password": "wrong " + helpers.PASSWORD})
    assert wrong.status_code == 401
    first = await helpers.login(client, email)
    second = (await sessions.refresh(client, first["refresh_token"])).json()
    await sessions.move_spent_back(db_session, first["access_token"], timedelta(minutes=1))
    assert (await sessions.refresh(client, first["refresh_token"])).status_code == 401  # reuse
    other = await helpers.login(client, email)
    change = {"current_password": helpers.PASSWORD, "new_password": "another long passphrase"}
    changed = await client.post("/api/v1/users/me/password", json=change, headers=helpers.bearer(other["access_token"]))
    assert changed.status_code == 204
    assert (await client.post(sessions.LOGOUT, headers=helpers.bearer(other["access_token"]))).status_code == 204

    parsed = [json.loads(line) for line in _lines(log_output)]
    events = [p for p in parsed if p.get("logger") == "app.security"]
    assert [e["event"] for e in events] == [
        "login_failed",
        "login_succeeded",
        "refresh_token_reused",
        "login_succeeded",
        "sessions_revoked",
        "password_changed",
        "logged_out",
    ]
    assert all(e["user_id"] == user["id"] and e["request_id"] for e in events)
    assert len({e["request_id"] for e in events}) == 6  # the password change logs twice in its one request
    assert events[0]["reason"] == "wrong_password"
    assert events[2]["session_id"] == int(helpers.session_id_of(first["access_token"]))
    assert (events[2]["level"], events[1]["level"]) == ("warning", "info")
    tokens = [first, second, other]
    secrets = {
        **{f"{name} {i}": pair[name] for i, pair in enumerate(tokens) for name in ("access_token", "refresh_token")},
        **{f"digest {i}": context.secret_hasher.digest(pair["refresh_token"]).hex() for i, pair in enumerate(tokens)},
        "password": helpers.PASSWORD,
        "new password": change["new_password"],
    }
    lines = _lines(log_output)
    assert not {name: line for name, secret in secrets.items() for line in lines if secret in line}
