"""No pool deadlock, whatever the pool size: 64 concurrent requests of every kind through a one-connection pool.

A request that held a connection while waiting for a second one (a nested session, a claim taken inside the
request's transaction, a thread pool waiting on the pool) would stall here until the pool timeout and answer 503.
PostgreSQL only: SQLite's pool size does not bound its connections the same way (see docs/performance.md).
"""

import asyncio
import uuid
from collections import Counter

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.pool import QueuePool

from app.core.context import AppContext
from tests import helpers

pytestmark = [
    pytest.mark.settings(database_pool_size=1, database_max_overflow=0, database_pool_timeout=20),
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

CONCURRENCY = 64


async def test_sixty_four_concurrent_requests_share_one_connection(
    app: FastAPI, context: AppContext, committing_client: httpx.AsyncClient, counters_path: str
) -> None:
    client = committing_client
    admin = await helpers.committed_admin_headers(context, client)
    created = await client.post(counters_path, json={"name": "pool", "ceiling": 1_000}, headers=admin)
    counter = f"{counters_path}/{created.json()['id']}"
    buyers = [await helpers.user_headers(client) for _ in range(4)]
    emails = [(await client.get("/api/v1/users/me", headers=b)).json()["email"] for b in buyers]

    def one(i: int) -> asyncio.Future[httpx.Response]:
        buyer = buyers[i % len(buyers)]
        kind = i % 4
        if kind == 0:
            return asyncio.ensure_future(client.get(counter))
        if kind == 1:
            return asyncio.ensure_future(client.get(counters_path, params={"size": 20}))
        if kind == 2:  # an idempotent write: its key's claim commits before the write's transaction begins
            return asyncio.ensure_future(
                client.post(
                    f"{counter}/increments", json={"by": 1}, headers={**buyer, "Idempotency-Key": uuid.uuid4().hex}
                )
            )
        form = {"username": emails[i % len(emails)], "password": helpers.PASSWORD}
        return asyncio.ensure_future(client.post("/api/v1/auth/token", data=form))

    responses = await asyncio.gather(*(one(i) for i in range(CONCURRENCY)))

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 48, 201: 16}, [r.text for r in responses if r.status_code >= 300]
    pool = context.database.engine.pool
    assert isinstance(pool, QueuePool)  # PostgreSQL's pool: it counts the connections checked out
    assert pool.checkedout() == 0
