"""Idempotency-Key on a write, with real commits on SQLite and PostgreSQL (`committing_client`).

The write is an increment of the tests' own counters (tests/support/counters.py): it changes a row, refuses to pass
the counter's ceiling (409) and takes the Idempotency-Key as any write that opts in does.
"""

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core import idempotency as store
from app.core.context import AppContext
from app.core.database import utcnow
from app.core.exceptions import ConflictError
from tests import helpers
from tests.support import counters


async def value(client: httpx.AsyncClient, path: str) -> int:
    """The counter's value: how many units every increment made so far added."""
    current: int = (await client.get(path)).json()["value"]
    return current


class Shop:
    """A counter to increment, its administrator and a user who increments it."""

    def __init__(self, context: AppContext, client: httpx.AsyncClient, path: str) -> None:
        self.context, self.client, self.path = context, client, path

    async def setup(self, *, ceiling: int = 10) -> None:
        self.admin = await helpers.committed_admin_headers(self.context, self.client)
        created = await self.client.post(self.path, json={"name": "stock", "ceiling": ceiling}, headers=self.admin)
        assert created.status_code == 201, created.text
        self.counter = f"{self.path}/{created.json()['id']}"
        self.increments = f"{self.counter}/increments"
        self.buyer = await helpers.user_headers(self.client)

    async def order(
        self, key: str | None, *, quantity: int = 1, headers: helpers.Headers | None = None, body: Any = None
    ) -> httpx.Response:
        """Add `quantity` to the counter (the effect that must happen at most once per key)."""
        sent = {**(headers or self.buyer), **({"Idempotency-Key": key} if key is not None else {})}
        payload = body if body is not None else {"by": quantity}
        return await self.client.post(self.increments, json=payload, headers=sent)

    async def value(self) -> int:
        return await value(self.client, self.counter)

    async def claim_directly(self, key: str, *, lease: timedelta) -> store.Claim | store.StoredResponse:
        """Claim `key` for a one-unit increment as an attempt that then crashes or stalls would have."""
        async with self.context.database.session(writes=True) as session:
            return await store.claim(
                session,
                caller=await self.caller(),
                key=key,
                request_fingerprint=store.fingerprint("POST", self.increments, b'{"by":1}'),
                lease=lease,
            )

    async def caller(self) -> str:
        me = (await self.client.get("/api/v1/users/me", headers=self.buyer)).json()
        return f"user:{me['id']}"


@pytest.fixture
async def shop(context: AppContext, committing_client: httpx.AsyncClient, counters_path: str) -> Shop:
    shop = Shop(context, committing_client, counters_path)
    await shop.setup()
    return shop


async def test_a_retry_replays_the_first_response_and_writes_once(shop: Shop) -> None:
    first = await shop.order("retry-1", quantity=2)
    again = await shop.order("retry-1", quantity=2)

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["content-type"] == "application/json"
    assert await shop.value() == 2


async def test_the_same_json_with_other_spacing_and_key_order_is_the_same_request(shop: Shop) -> None:
    sent = {**shop.buyer, "Idempotency-Key": "spacing", "Content-Type": "application/json"}
    first = await shop.client.post(shop.increments, content='{"by": 1, "note": "n"}', headers=sent)
    again = await shop.client.post(shop.increments, content='{"note":"n","by":1}', headers=sent)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await shop.value() == 1


async def test_the_same_key_with_another_body_is_refused(shop: Shop) -> None:
    assert (await shop.order("reuse", quantity=1)).status_code == 201
    refused = await shop.order("reuse", quantity=3)
    helpers.problem(refused, 422, "idempotency-key-reused")
    assert await shop.value() == 1


async def test_concurrent_duplicates_write_once(shop: Shop) -> None:
    responses = await asyncio.gather(*(shop.order("burst") for _ in range(8)))

    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    made = {r.content for r in responses if r.status_code == 201}
    assert len(made) == 1  # every 201 is the same increment: the original or its replay
    originals = [r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers]
    assert len(originals) == 1  # the others were refused while it ran, or replayed after: none made anew
    for refused in (r for r in responses if r.status_code == 409):
        helpers.problem(refused, 409, "idempotency-key-in-use")
        assert int(refused.headers["retry-after"]) >= 1
    assert await shop.value() == 1


async def test_a_key_held_by_a_live_attempt_is_409_until_it_finishes(shop: Shop) -> None:
    held = await shop.claim_directly("in-flight", lease=timedelta(seconds=30))
    assert isinstance(held, store.Claim)

    refused = await shop.order("in-flight")
    helpers.problem(refused, 409, "idempotency-key-in-use")
    assert 1 <= int(refused.headers["retry-after"]) <= 30
    assert await shop.value() == 0


async def test_a_client_that_retries_after_a_timeout_never_gets_a_second_write(shop: Shop, engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("holds the counter's row lock to keep the first attempt in flight: PostgreSQL only")
    # The first attempt is stuck behind a lock on the counter's row, as a slow database would keep it; its client
    # gives up (a timeout) and retries with the same key while it is still running, then again after it finished.
    async with engine.connect() as locker, locker.begin():
        await locker.execute(select(counters.counter.c.id).with_for_update())
        first = asyncio.create_task(shop.order("timed-out"))
        while await claimed_keys(engine) == 0:  # noqa: ASYNC110 - polling the database: no event to wait on
            await asyncio.sleep(0.01)
        retried_while_running = await shop.order("timed-out")
        helpers.problem(retried_while_running, 409, "idempotency-key-in-use")
        assert not first.done()
    placed = await first  # the lock is gone: the first attempt completes
    assert placed.status_code == 201, placed.text

    retried_after = await shop.order("timed-out")
    assert retried_after.status_code == 201
    assert retried_after.headers["idempotent-replayed"] == "true"
    assert retried_after.json() == placed.json()
    assert await shop.value() == 1


async def claimed_keys(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        count: int = (await connection.execute(select(func.count()).select_from(store.IdempotencyRecord))).scalar_one()
        return count


async def test_a_crashed_attempts_key_is_taken_over_after_its_lease(shop: Shop) -> None:
    crashed = await shop.claim_directly("crashed", lease=timedelta(seconds=0))
    assert isinstance(crashed, store.Claim)

    retried = await shop.order("crashed")
    assert retried.status_code == 201, retried.text
    # The crashed attempt, had it only stalled, can no longer store its response (its transaction rolls back).
    async with shop.context.database.session(writes=True) as session:
        with pytest.raises(ConflictError):
            await store.complete(session, crashed, store.StoredResponse(201, {}, b"{}"))
    assert (await shop.order("crashed")).json() == retried.json()
    assert await shop.value() == 1


async def test_a_failed_attempt_releases_its_key(shop: Shop) -> None:
    refused = await shop.order("after-raise", quantity=50)
    helpers.problem(refused, 409, "conflict")
    patched = await shop.client.patch(shop.counter, json={"ceiling": 60}, headers=shop.admin)
    assert patched.status_code == 200

    retried = await shop.order("after-raise", quantity=50)
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert await shop.value() == 50


async def test_keys_belong_to_their_caller(shop: Shop) -> None:
    other = await helpers.user_headers(shop.client)
    mine = await shop.order("shared-name")
    theirs = await shop.order("shared-name", headers=other)
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["value"] != theirs.json()["value"]
    assert await shop.value() == 2


async def test_without_a_key_every_request_is_new(shop: Shop) -> None:
    assert (await shop.order(None)).status_code == 201
    assert (await shop.order(None)).status_code == 201
    assert await shop.value() == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "spaces are invisible", "naïve"])
async def test_malformed_keys_are_refused_before_any_work(shop: Shop, key: str) -> None:
    response = await shop.client.post(
        shop.increments,
        json={"by": 1},
        headers=[
            *((name.encode(), value.encode()) for name, value in shop.buyer.items()),
            (b"idempotency-key", key.encode()),
        ],
    )
    helpers.problem(response, 422, "validation-error")
    assert response.json()["errors"][0]["location"] == "header"
    assert await shop.value() == 0


async def test_an_expired_record_is_a_new_request_and_is_purged(shop: Shop) -> None:
    first = await shop.order("yesterday")
    async with shop.context.database.session(writes=False) as session:
        record = (await session.execute(select(store.IdempotencyRecord))).scalar_one()
    assert timedelta(hours=24) - timedelta(seconds=5) <= record.expires_at - record.created_at <= timedelta(hours=24)
    async with shop.context.database.session(writes=True) as session, session.begin():
        await session.execute(
            update(store.IdempotencyRecord)
            .where(store.IdempotencyRecord.key == "yesterday")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    again = await shop.order("yesterday")
    assert again.status_code == 201
    assert again.json()["value"] != first.json()["value"]

    async with shop.context.database.session(writes=True) as session, session.begin():
        await session.execute(update(store.IdempotencyRecord).values(expires_at=utcnow() - timedelta(seconds=1)))
    async with shop.context.database.session(writes=True) as session:
        assert await store.purge_expired(session) == 1
    async with shop.context.database.session(writes=False) as session:
        remaining = (await session.execute(select(func.count()).select_from(store.IdempotencyRecord))).scalar_one()
    assert remaining == 0


async def test_the_header_is_documented(shop: Shop) -> None:
    operation = (await shop.client.get("/openapi.json")).json()["paths"][f"{counters.PATH}/{{counter_id}}/increments"][
        "post"
    ]
    [header] = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key"
    assert {"201", "409", "422"} <= set(operation["responses"])
