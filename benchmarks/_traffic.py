"""Mixed client traffic for `benchmarks.faults`: every request recorded, orders retried as a careful client does.

A virtual user reads the catalogue, reads products, lists its orders, logs in now and then and places orders.
Each order gets one `Idempotency-Key` and is retried with that key (honouring `Retry-After`, capped) on 503,
429, 409 "in progress" and on transport errors, until it has a definitive answer: 201 (acknowledged) or another
4xx. So an order whose first attempt committed but whose answer was lost is acknowledged by a replay, never
placed twice.
"""

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["Ledger", "Order", "ReadyzPoll", "Record", "UserPlan", "poll_readyz", "virtual_user"]

PROBLEM_JSON = "application/problem+json"
_RETRY_STATUSES = frozenset({409, 429, 503})
_MAX_RETRY_WAIT = 1.0


@dataclass(frozen=True, slots=True)
class Record:
    kind: str  # products | product | orders | login | order
    started: float  # time.monotonic()
    finished: float
    status: int | None  # None: no response (transport error or the client's deadline)
    content_type: str
    error: str | None = None
    rate_limited: bool = False  # the response carried rate-limit headers (the limiter's backend answered)

    @property
    def latency(self) -> float:
        return self.finished - self.started


@dataclass(frozen=True, slots=True)
class ReadyzPoll:
    started: float
    finished: float
    status: int | None
    body: dict[str, Any]


@dataclass(slots=True)
class Order:
    key: str
    items: dict[int, int]  # product id -> quantity
    order_id: int | None = None  # set on 201
    refused: int | None = None  # a definitive 4xx other than 409 "in progress"


@dataclass(slots=True)
class Ledger:
    records: list[Record] = field(default_factory=list)
    readyz: list[ReadyzPoll] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)


async def _send(
    ledger: Ledger, http: httpx.AsyncClient, kind: str, method: str, url: str, **kwargs: Any
) -> httpx.Response | None:
    started = time.monotonic()
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        ledger.records.append(Record(kind, started, time.monotonic(), None, "", f"{type(exc).__name__}: {exc}"))
        return None
    ledger.records.append(
        Record(
            kind,
            started,
            time.monotonic(),
            response.status_code,
            response.headers.get("content-type", ""),
            rate_limited="x-ratelimit-remaining" in response.headers,
        )
    )
    return response


def _retry_wait(response: httpx.Response | None, attempt: int) -> float:
    backoff: float = min(_MAX_RETRY_WAIT, 0.05 * 2.0**attempt)
    if response is not None and (after := response.headers.get("retry-after", "")).isdigit():
        return min(_MAX_RETRY_WAIT, max(backoff, float(after)))
    return backoff


async def _place_order(
    ledger: Ledger, http: httpx.AsyncClient, headers: dict[str, str], order: Order, give_up_at: float
) -> None:
    body = {"items": [{"product_id": p, "quantity": q} for p, q in sorted(order.items.items())]}
    attempt = 0
    while time.monotonic() < give_up_at:
        response = await _send(
            ledger,
            http,
            "order",
            "POST",
            "/api/v1/orders",
            json=body,
            headers={**headers, "Idempotency-Key": order.key},
        )
        if response is not None and response.status_code == 201:  # noqa: PLR2004
            order.order_id = int(response.json()["id"])
            return
        retryable = response is None or response.status_code in _RETRY_STATUSES
        if response is not None and response.status_code == 409:  # noqa: PLR2004
            retryable = response.json().get("type", "").endswith("idempotency-key-in-use")
        if not retryable:
            assert response is not None  # noqa: S101 - narrowed above
            order.refused = response.status_code
            return
        await asyncio.sleep(_retry_wait(response, attempt))
        attempt += 1


@dataclass(frozen=True, slots=True)
class UserPlan:
    email: str
    password: str
    product_ids: list[int]
    seed: int


async def virtual_user(
    ledger: Ledger, http: httpx.AsyncClient, plan: UserPlan, token: str, *, stop_at: float, give_up_at: float
) -> None:
    """Mixed traffic until `stop_at`; an order under way is still resolved (until `give_up_at`)."""
    rng = random.Random(plan.seed)  # noqa: S311 - a traffic mix, not a secret
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < stop_at:
        roll = rng.random()
        if roll < 0.3:  # noqa: PLR2004
            chosen = rng.sample(plan.product_ids, rng.randint(1, len(plan.product_ids)))
            order = Order(str(uuid.uuid4()), {p: rng.randint(1, 3) for p in chosen})
            ledger.orders.append(order)
            await _place_order(ledger, http, headers, order, give_up_at)
        elif roll < 0.6:  # noqa: PLR2004
            await _send(ledger, http, "products", "GET", "/api/v1/products", params={"size": 20})
        elif roll < 0.85:  # noqa: PLR2004
            await _send(ledger, http, "product", "GET", f"/api/v1/products/{rng.choice(plan.product_ids)}")
        elif roll < 0.98:  # noqa: PLR2004
            await _send(ledger, http, "orders", "GET", "/api/v1/orders", params={"size": 5}, headers=headers)
        else:
            form = {"username": plan.email, "password": plan.password}
            response = await _send(ledger, http, "login", "POST", "/api/v1/auth/token", data=form)
            if response is not None and response.status_code == 200:  # noqa: PLR2004
                headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        await asyncio.sleep(rng.uniform(0.0, 0.02))


async def poll_readyz(ledger: Ledger, http: httpx.AsyncClient, *, stop_at: float, every: float = 0.25) -> None:
    while time.monotonic() < stop_at:
        started = time.monotonic()
        try:
            response = await http.get("/readyz")
        except httpx.HTTPError:
            ledger.readyz.append(ReadyzPoll(started, time.monotonic(), None, {}))
        else:
            ledger.readyz.append(ReadyzPoll(started, time.monotonic(), response.status_code, response.json()))
        await asyncio.sleep(every)
