"""Idempotency-Key on order placement, with real commits on SQLite and PostgreSQL (`committing_client`)."""

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core import idempotency as store
from app.core.database import utcnow
from app.core.exceptions import ConflictError
from app.features.orders.models import Order
from app.features.products.models import Product
from tests import helpers

ORDERS = "/api/v1/orders"
PRODUCTS = "/api/v1/products"


async def order_count(app: FastAPI) -> int:
    async with app.state.database.session(writes=False) as session:
        count: int = (await session.execute(select(func.count()).select_from(Order))).scalar_one()
        return count


async def stock(client: httpx.AsyncClient, product_id: int) -> int:
    quantity: int = (await client.get(f"{PRODUCTS}/{product_id}")).json()["quantity"]
    return quantity


class Shop:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app, self.client = app, client

    async def setup(self, *, quantity: int = 10) -> None:
        self.admin = await helpers.committed_admin_headers(self.app, self.client)
        self.product = (await helpers.create_product(self.client, self.admin, quantity=quantity))["id"]
        self.buyer = await helpers.user_headers(self.client)

    async def order(
        self, key: str | None, *, quantity: int = 1, headers: helpers.Headers | None = None, body: Any = None
    ) -> httpx.Response:
        sent = {**(headers or self.buyer), **({"Idempotency-Key": key} if key is not None else {})}
        payload = body if body is not None else {"items": [{"product_id": self.product, "quantity": quantity}]}
        return await self.client.post(ORDERS, json=payload, headers=sent)

    async def claim_directly(self, key: str, *, lease: timedelta) -> store.Claim | store.StoredResponse:
        """Claim `key` for a one-unit order as an attempt that then crashes or stalls would have."""
        body = f'{{"items":[{{"product_id":{self.product},"quantity":1}}]}}'.encode()
        async with self.app.state.database.session(writes=True) as session:
            return await store.claim(
                session,
                caller=await self.caller(),
                key=key,
                request_fingerprint=store.fingerprint("POST", ORDERS, body),
                lease=lease,
            )

    async def caller(self) -> str:
        me = (await self.client.get("/api/v1/users/me", headers=self.buyer)).json()
        return f"user:{me['id']}"


@pytest.fixture
async def shop(app: FastAPI, committing_client: httpx.AsyncClient) -> Shop:
    shop = Shop(app, committing_client)
    await shop.setup()
    return shop


async def test_a_retry_replays_the_first_response_and_orders_once(shop: Shop) -> None:
    first = await shop.order("retry-1", quantity=2)
    again = await shop.order("retry-1", quantity=2)

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["content-type"] == "application/json"
    assert await order_count(shop.app) == 1
    assert await stock(shop.client, shop.product) == 8


async def test_the_same_json_with_other_spacing_and_key_order_is_the_same_request(shop: Shop) -> None:
    first = await shop.client.post(
        ORDERS,
        content=f'{{"items": [{{"product_id": {shop.product}, "quantity": 1}}]}}',
        headers={**shop.buyer, "Idempotency-Key": "spacing", "Content-Type": "application/json"},
    )
    again = await shop.client.post(
        ORDERS,
        content=f'{{"items":[{{"quantity":1,"product_id":{shop.product}}}]}}',
        headers={**shop.buyer, "Idempotency-Key": "spacing", "Content-Type": "application/json"},
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]


async def test_the_same_key_with_another_body_is_refused(shop: Shop) -> None:
    assert (await shop.order("reuse", quantity=1)).status_code == 201
    refused = await shop.order("reuse", quantity=3)
    helpers.problem(refused, 422, "idempotency-key-reused")
    assert await order_count(shop.app) == 1
    assert await stock(shop.client, shop.product) == 9


async def test_concurrent_duplicates_place_one_order(shop: Shop) -> None:
    responses = await asyncio.gather(*(shop.order("burst") for _ in range(8)))

    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    placed = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(placed) == 1  # every 201 is the same order: the original or its replay
    originals = [r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers]
    assert len(originals) == 1  # the others were refused while it ran, or replayed after: none placed anew
    for refused in (r for r in responses if r.status_code == 409):
        helpers.problem(refused, 409, "idempotency-key-in-use")
        assert int(refused.headers["retry-after"]) >= 1
    assert await order_count(shop.app) == 1
    assert await stock(shop.client, shop.product) == 9


async def test_a_key_held_by_a_live_attempt_is_409_until_it_finishes(shop: Shop) -> None:
    held = await shop.claim_directly("in-flight", lease=timedelta(seconds=30))
    assert isinstance(held, store.Claim)

    refused = await shop.order("in-flight")
    helpers.problem(refused, 409, "idempotency-key-in-use")
    assert 1 <= int(refused.headers["retry-after"]) <= 30
    assert await order_count(shop.app) == 0


async def test_a_client_that_retries_after_a_timeout_never_gets_a_second_order(shop: Shop, engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("holds the product's row lock to keep the first attempt in flight: PostgreSQL only")
    # The first attempt is stuck behind a lock on the product's row, as a slow database would keep it; its client
    # gives up (a timeout) and retries with the same key while it is still running, then again after it finished.
    async with engine.connect() as locker, locker.begin():
        await locker.execute(select(Product.id).where(Product.id == shop.product).with_for_update())
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
    assert retried_after.json()["id"] == placed.json()["id"]
    assert await order_count(shop.app) == 1
    assert await stock(shop.client, shop.product) == 9


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
    async with shop.app.state.database.session(writes=True) as session:
        with pytest.raises(ConflictError):
            await store.complete(session, crashed, store.StoredResponse(201, {}, b"{}"))
    assert (await shop.order("crashed")).json()["id"] == retried.json()["id"]
    assert await order_count(shop.app) == 1


async def test_a_failed_attempt_releases_its_key(shop: Shop) -> None:
    refused = await shop.order("after-restock", quantity=50)
    helpers.problem(refused, 409, "insufficient-stock")
    patched = await shop.client.patch(f"{PRODUCTS}/{shop.product}", json={"quantity": 60}, headers=shop.admin)
    assert patched.status_code == 200

    retried = await shop.order("after-restock", quantity=50)
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert await stock(shop.client, shop.product) == 10


async def test_keys_belong_to_their_caller(shop: Shop) -> None:
    other = await helpers.user_headers(shop.client)
    mine = await shop.order("shared-name")
    theirs = await shop.order("shared-name", headers=other)
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    assert await order_count(shop.app) == 2


async def test_without_a_key_every_request_is_new(shop: Shop) -> None:
    assert (await shop.order(None)).status_code == 201
    assert (await shop.order(None)).status_code == 201
    assert await order_count(shop.app) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "spaces are invisible", "naïve"])
async def test_malformed_keys_are_refused_before_any_work(shop: Shop, key: str) -> None:
    response = await shop.client.post(
        ORDERS,
        json={"items": [{"product_id": shop.product, "quantity": 1}]},
        headers=[
            *((name.encode(), value.encode()) for name, value in shop.buyer.items()),
            (b"idempotency-key", key.encode()),
        ],
    )
    helpers.problem(response, 422, "validation-error")
    assert response.json()["errors"][0]["location"] == "header"
    assert await order_count(shop.app) == 0


async def test_an_expired_record_is_a_new_request_and_is_purged(shop: Shop) -> None:
    first = await shop.order("yesterday")
    async with shop.app.state.database.session(writes=False) as session:
        record = (await session.execute(select(store.IdempotencyRecord))).scalar_one()
    assert timedelta(hours=24) - timedelta(seconds=5) <= record.expires_at - record.created_at <= timedelta(hours=24)
    async with shop.app.state.database.session(writes=True) as session, session.begin():
        await session.execute(
            update(store.IdempotencyRecord)
            .where(store.IdempotencyRecord.key == "yesterday")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    again = await shop.order("yesterday")
    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]

    async with shop.app.state.database.session(writes=True) as session, session.begin():
        await session.execute(update(store.IdempotencyRecord).values(expires_at=utcnow() - timedelta(seconds=1)))
    async with shop.app.state.database.session(writes=True) as session:
        assert await store.purge_expired(session) == 1
    async with shop.app.state.database.session(writes=False) as session:
        remaining = (await session.execute(select(func.count()).select_from(store.IdempotencyRecord))).scalar_one()
    assert remaining == 0


async def test_the_header_is_documented(shop: Shop) -> None:
    operation = (await shop.client.get("/openapi.json")).json()["paths"][ORDERS]["post"]
    [header] = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key"
    assert {"201", "409", "422"} <= set(operation["responses"])
