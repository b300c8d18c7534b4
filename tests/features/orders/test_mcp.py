"""Products and orders through the MCP server, over both transports: listing products with a read-only key,
placing an order with an `orders:write` key, and the refusal without that scope."""

from pathlib import Path

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from app.core.context import AppContext
from app.core.database import create_engine
from app.features.api_keys.models import Scope
from app.features.products import service as products_service
from app.features.products.schemas import ProductCreate
from app.main import create_app
from tests import helpers
from tests.support import databases
from tests.support.app import Running, running
from tests.support.audit import audit_as
from tests.support.mcp import api_key, http_client, stdio_client, text_of, tool_names
from tests.support.settings import make_settings

WRITE_TOOLS = {"place_order", "cancel_order", "create_product", "update_product", "delete_product"}


def _order(product_id: int, quantity: int) -> dict[str, object]:
    return {"body": {"items": [{"product_id": product_id, "quantity": quantity}]}}


async def _product(context: AppContext, *, quantity: int = 5) -> int:
    data = ProductCreate(name="Widget", price=helpers.money("9.99"), quantity=quantity)
    async with context.database.session(writes=True) as session, session.begin():
        product = await products_service.create_product(session, data=data, events=context.events, audit=audit_as())
    return product.id


async def test_a_read_only_key_lists_products_and_no_write_tools(
    started: Running, context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    product_id = await _product(context)
    key = await api_key(context, Scope.ORDERS_READ)

    async with http_client(started.asgi, {"X-API-Key": key}) as client:
        names = tool_names((await client.list_tools()).tools)
        listed = await client.call_tool("list_products", {"size": 10})

    assert {"list_products", "get_product", "list_orders", "get_order"} <= names
    assert not names & WRITE_TOOLS
    assert not listed.is_error
    assert listed.structured_content is not None
    assert [item["id"] for item in listed.structured_content["items"]] == [product_id]


async def test_an_orders_write_key_places_an_order(
    started: Running, context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    product_id = await _product(context, quantity=5)
    key = await api_key(context, Scope.ORDERS_WRITE)

    async with http_client(started.asgi, {"X-API-Key": key}) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        placed = await client.call_tool("place_order", _order(product_id, 2))
        short = await client.call_tool("place_order", _order(product_id, 9))

    assert tools["place_order"].annotations is not None
    assert tools["place_order"].annotations.read_only_hint is False
    assert "body" in tools["place_order"].input_schema["required"]
    assert not placed.is_error, text_of(placed)
    assert placed.structured_content is not None
    assert placed.structured_content["status"] == "placed"
    assert short.is_error
    assert short.structured_content is not None
    assert short.structured_content["type"] == f"{helpers.PROBLEM_PREFIX}insufficient-stock"
    assert short.structured_content["available"] == 3


async def test_placing_an_order_without_the_scope_is_refused(
    started: Running, context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    product_id = await _product(context)
    key = await api_key(context, Scope.ORDERS_READ)

    async with http_client(started.asgi, {"X-API-Key": key}) as client:
        refused = await client.call_tool("place_order", _order(product_id, 1))
    orders = await committing_client.get("/api/v1/orders", headers={"X-API-Key": key})

    assert refused.is_error
    assert refused.structured_content is not None
    assert refused.structured_content["status"] == 403
    assert "orders:write" in refused.structured_content["detail"]
    assert orders.json()["total"] == 0


async def test_over_stdio_the_same_tools_and_gates(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'mcp.db'}"
    await databases.recreate(url)
    settings = make_settings(url)
    engine = create_engine(settings)
    await databases.upgrade(engine)
    await engine.dispose()
    async with running(create_app(settings)) as started:
        product_id = await _product(started.context)
        reader = await api_key(started.context, Scope.ORDERS_READ)
        writer = await api_key(started.context, Scope.ORDERS_WRITE)

    async with stdio_client(url, reader, cwd=tmp_path) as client:
        names = tool_names((await client.list_tools()).tools)
        listed = await client.call_tool("list_products", {})
        refused = await client.call_tool("place_order", _order(product_id, 1))
        with pytest.raises(MCPError, match="Unknown tool"):
            await client.call_tool("list_users", {})
    async with stdio_client(url, writer, cwd=tmp_path) as client:
        placed = await client.call_tool("place_order", _order(product_id, 1))

    assert "list_products" in names
    assert not names & WRITE_TOOLS
    assert listed.structured_content is not None
    assert listed.structured_content["total"] == 1
    assert refused.is_error
    assert not placed.is_error, text_of(placed)
