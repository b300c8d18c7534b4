"""An aggregation in flight holds no database connection: slow upstreams cannot drain the pool.

PostgreSQL only, with a pool of one connection: the aggregate's caller is authenticated (taking that connection)
and the connection is back in the pool before any upstream is called, so another request that needs the database
is served while the aggregation still waits on a source that never answers.
"""

import asyncio

import httpx
import pytest
from sqlalchemy.pool import QueuePool

from app.core.context import AppContext
from tests import helpers
from tests.support.upstreams import Upstreams

pytestmark = [
    # The deadline bounds how long the test waits for the 504 at the end; it only needs to outlast one request.
    pytest.mark.settings(database_pool_size=1, database_max_overflow=0, database_pool_timeout=20, aggregate_timeout=5),
    pytest.mark.upstreams(stock="slow/stock"),
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]


async def test_a_slow_aggregation_does_not_hold_the_only_database_connection(
    context: AppContext, committing_client: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    client = committing_client
    user = await helpers.user_headers(client)
    aggregation = asyncio.ensure_future(client.get("/api/v1/aggregate", headers=user))
    for _ in range(250):  # until the upstream is being waited on
        if upstreams.headers_of("/slow/stock"):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the slow upstream was never called")

    pool = context.database.engine.pool
    assert isinstance(pool, QueuePool)  # PostgreSQL's pool: it counts the connections checked out
    assert pool.checkedout() == 0
    me = await client.get("/api/v1/users/me", headers=user)  # needs the one connection
    assert me.status_code == 200, me.text
    assert not aggregation.done()  # served while the aggregation was still waiting, not after it

    helpers.problem(await aggregation, 504, "upstream-timeout")
