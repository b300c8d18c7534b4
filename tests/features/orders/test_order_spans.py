"""The orders feature's business spans and their attributes, exported to a real in-process OTLP receiver.

(How business spans, client spans and errors reach the exporter is tests/core/test_telemetry.py's.)
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.core.context import AppContext
from app.main import create_app
from tests import helpers
from tests.features.products.helpers import create_product
from tests.support.app import Running, running
from tests.support.otlp import OtlpReceiver, attributes

pytestmark = pytest.mark.settings(otel_exporter="otlp")

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
ORDERS = "/api/v1/orders"


@pytest.fixture
async def started(settings: Settings, engine: object, otlp: OtlpReceiver) -> AsyncIterator[Running]:
    async with running(create_app(settings)) as started:
        yield started


def flushed(context: AppContext, otlp: OtlpReceiver, name: str) -> Any:
    assert context.telemetry is not None
    assert context.telemetry.tracer_provider.force_flush()
    [span] = [s for s in otlp.by_name(name) if s.trace_id.hex() == TRACE_ID]
    return span


def sql_statements(otlp: OtlpReceiver, parent: Any) -> list[str]:
    return [str(attributes(s).get("db.statement", "")) for s in otlp.children_of(parent)]


async def test_placing_and_reading_an_order_make_business_spans(
    context: AppContext, committing_client: httpx.AsyncClient, otlp: OtlpReceiver
) -> None:
    client = committing_client
    admin = await helpers.committed_admin_headers(context, client)
    product = await create_product(client, admin, quantity=3)
    traced = {**await helpers.user_headers(client), "traceparent": TRACEPARENT}

    placed = await client.post(ORDERS, json={"items": [{"product_id": product["id"], "quantity": 2}]}, headers=traced)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    assert (await client.get(f"{ORDERS}/{order_id}", headers=traced)).status_code == 200

    post = flushed(context, otlp, "POST /api/v1/orders")
    [placement] = [s for s in otlp.children_of(post) if s.name == "orders.place"]
    assert attributes(placement) == {"order.item_count": 1, "order.id": order_id, "order.status": "placed"}
    [reservation] = [s for s in otlp.children_of(placement) if s.name == "orders.reserve_stock"]
    assert attributes(reservation) == {"order.product_count": 1}
    assert any(statement.startswith("UPDATE product") for statement in sql_statements(otlp, reservation))
    assert any(statement.startswith("INSERT INTO order_item") for statement in sql_statements(otlp, placement))

    read = flushed(context, otlp, "GET /api/v1/orders/{order_id}")
    assert {k: v for k, v in attributes(read).items() if k.startswith("order.")} == {
        "order.id": order_id,
        "order.status": "placed",
        "order.item_count": 1,
    }


async def test_short_stock_is_an_error_event_on_the_span_of_the_placement(
    context: AppContext, committing_client: httpx.AsyncClient, otlp: OtlpReceiver
) -> None:
    client = committing_client
    admin = await helpers.committed_admin_headers(context, client)
    product = await create_product(client, admin, quantity=1)
    traced = {**await helpers.user_headers(client), "traceparent": TRACEPARENT}

    refused = await client.post(ORDERS, json={"items": [{"product_id": product["id"], "quantity": 5}]}, headers=traced)
    assert refused.status_code == 409

    post = flushed(context, otlp, "POST /api/v1/orders")
    [error] = [attributes(e) for e in post.events if e.name == "exception"]
    assert error["exception.type"] == "insufficient-stock"
    assert attributes(post)["error.type"] == "insufficient-stock"
    assert "orders.place" in {s.name for s in otlp.children_of(post)}
