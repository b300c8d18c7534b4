"""What sessions cost: an authenticated request checks its session in the one statement that loads its user (no
round trip of its own), and concurrent refreshes of one token leave the session with one line of tokens."""

import asyncio

import httpx

from app.core.context import AppContext
from tests import helpers
from tests.support import databases
from tests.support.sessions import ME, SESSIONS, access_works, login, refresh, session_row


async def test_a_bearer_request_is_one_statement_and_a_revoked_sessions_token_is_refused_at_the_next(
    context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    client = committing_client
    user = await helpers.register(client)
    tokens = await login(client, user["email"])
    access = helpers.bearer(tokens["access_token"])

    with databases.statements_sent(context.database.engine) as sent:
        assert (await client.get(ME, headers=access)).status_code == 200
    assert [s for s in sent if s != "PREPARE"] == ["SELECT"]  # the user and its session, together

    assert (await client.post(f"{SESSIONS}/revoke-all", headers=access)).status_code == 200
    with databases.statements_sent(context.database.engine) as sent:
        assert (await client.get(ME, headers=access)).status_code == 401
    assert [s for s in sent if s != "PREPARE"] == ["SELECT"]


async def test_a_refresh_token_that_is_not_well_formed_costs_no_statement(
    context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    with databases.statements_sent(context.database.engine) as sent:
        assert (await refresh(committing_client, "fgr_" + "a" * 38)).status_code == 401  # a failing checksum
    assert [s for s in sent if s not in {"BEGIN", "COMMIT", "ROLLBACK", "PREPARE"}] == []


async def test_concurrent_refreshes_of_one_token_leave_one_line_of_tokens(
    context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    """Two requests present the same token at once (a client retrying too early): one rotates it, the other is a
    retry within the grace; the session stays, and only the pair handed out last carries it on."""
    client = committing_client
    user = await helpers.register(client)
    tokens = await login(client, user["email"])
    answers = await asyncio.gather(*(refresh(client, tokens["refresh_token"]) for _ in range(2)))
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    issued = [a.json()["refresh_token"] for a in answers]
    assert await access_works(client, tokens["access_token"])  # not revoked
    async with context.database.session(writes=False) as session:
        row = await session_row(session, tokens["access_token"])
    [current] = [token for token in issued if context.secret_hasher.digest(token) == row.refresh_token_hash]
    assert (await refresh(client, current)).status_code == 200
