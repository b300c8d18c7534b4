"""The MCP server over streamable HTTP at /mcp, with the SDK's client, in-process: what is listed to whom, calls
made as the HTTP requests they stand for (their problems as tool errors, their rate limit), and dynamic endpoints
appearing as tools, on the instance that registered them and on another."""

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from app.config import Settings
from app.core.context import AppContext
from app.features.api_keys.models import Scope
from app.main import create_app
from tests import helpers
from tests.support import dynamic_endpoints as specs
from tests.support.app import Running, running
from tests.support.logs import captured_log
from tests.support.mcp import api_key, http_client, text_of, tool_names
from tests.support.polling import eventually


async def test_mcp_without_credentials_is_refused(started: Running, committing_client: httpx.AsyncClient) -> None:
    response = await committing_client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})

    helpers.problem(response, 401, "unauthenticated")


async def test_a_read_only_key_is_offered_read_only_tools(
    started: Running, context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    key = await api_key(context, Scope.API_READ)

    async with http_client(started.asgi, {"X-API-Key": key}) as client:
        tools = (await client.list_tools()).tools

    assert tools
    assert all(tool.annotations is not None and tool.annotations.read_only_hint for tool in tools)
    assert all(tool.description and tool.description.split("\n\n")[1].startswith("GET ") for tool in tools)


async def test_a_key_is_offered_only_what_its_scopes_allow(
    started: Running, context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    bare = await api_key(context, Scope.API_READ)
    writer = await api_key(context, Scope.API_WRITE)

    async with http_client(started.asgi, {"X-API-Key": bare}) as client:
        read_only = tool_names((await client.list_tools()).tools)
    async with http_client(started.asgi, {"X-API-Key": writer}) as client:
        writing = tool_names((await client.list_tools()).tools)

    assert read_only == writing  # no built-in operation asks for api:read or api:write
    assert "get_me" not in read_only  # a bearer token's operation: no key calls it
    assert "list_users" not in read_only  # an admin's


async def test_admin_operations_are_left_out_even_for_admins(
    started: Running, context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    admin = await helpers.committed_admin_headers(context, committing_client)

    async with http_client(started.asgi, admin) as client:
        names = tool_names((await client.list_tools()).tools)
        with pytest.raises(MCPError, match="Unknown tool"):
            await client.call_tool("list_users", {})

    assert "get_me" in names  # a bearer token's own operations are offered
    assert not names & {"list_users", "list_jobs", "create_endpoint", "list_webhooks", "list_events"}
    assert not names & {"issue_token", "register", "create_api_key", "list_sessions", "healthz"}  # excluded tags


@pytest.mark.settings(mcp_expose_admin=True)
async def test_admin_operations_are_offered_to_admins_when_exposed(
    started: Running, context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    admin = await helpers.committed_admin_headers(context, committing_client)
    user = await helpers.user_headers(committing_client)

    async with http_client(started.asgi, admin) as client:
        admins = tool_names((await client.list_tools()).tools)
        listed = await client.call_tool("list_users", {"size": 5})
    async with http_client(started.asgi, user) as client:
        users = tool_names((await client.list_tools()).tools)

    assert {"list_users", "create_endpoint"} <= admins
    assert not listed.is_error
    assert listed.structured_content is not None
    assert listed.structured_content["total"] >= 1
    assert "list_users" not in users


async def test_a_bad_key_is_an_error_not_a_list(started: Running, committing_client: httpx.AsyncClient) -> None:
    made_up = "fgk_" + "a" * 32 + "000000"

    async with http_client(started.asgi, {"X-API-Key": made_up}) as client:
        with pytest.raises(MCPError) as raised:
            await client.list_tools()

    assert "Authentication Required" in str(raised.value)


async def test_a_dynamic_endpoint_is_a_tool_from_its_registration_on(
    started: Running, context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    admin = await helpers.committed_admin_headers(context, committing_client)
    key = await api_key(context, Scope.API_READ)

    async with http_client(started.asgi, {"X-API-Key": key}) as client:
        before = tool_names((await client.list_tools()).tools)
        await specs.create(
            committing_client, admin, specs.static(summary="The service's status", auth="scope:api:read")
        )
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        result = await client.call_tool("dynamic_status_static_get", {})

    assert "dynamic_status_static_get" not in before
    tool = tools["dynamic_status_static_get"]
    assert tool.description is not None
    assert tool.description.startswith("The service's status.")
    assert tool.annotations is not None
    assert tool.annotations.read_only_hint
    assert not result.is_error
    assert result.structured_content == {"ok": True}


async def test_a_dynamic_endpoint_needing_a_scope_the_key_lacks_is_neither_listed_nor_callable(
    started: Running, context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    admin = await helpers.committed_admin_headers(context, committing_client)
    key = await api_key(context, Scope.API_READ)
    await specs.create(committing_client, admin, specs.collection(auth="scope:api:write"))

    async with http_client(started.asgi, {"X-API-Key": key}) as client:
        names = tool_names((await client.list_tools()).tools)
        refused = await client.call_tool("dynamic_books_collection_post", {"body": {"title": "Dune"}})

    assert not {name for name in names if name.startswith("dynamic_books")}
    assert refused.is_error
    assert refused.structured_content is not None
    assert refused.structured_content["type"] == f"{helpers.PROBLEM_PREFIX}forbidden"
    assert refused.structured_content["status"] == 403
    assert "api:write" in refused.structured_content["detail"]
    assert "Forbidden (403)" in text_of(refused)


async def test_a_problem_is_a_tool_error_with_its_type_title_and_detail(
    started: Running, context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    admin = await helpers.committed_admin_headers(context, committing_client)
    key = await api_key(context, Scope.API_WRITE)
    await specs.create(committing_client, admin, specs.collection(auth="scope:api:write"))

    async with http_client(started.asgi, {"X-API-Key": key}) as client:
        invalid = await client.call_tool("dynamic_books_collection_post", {"body": {"pages": 0}})
        created = await client.call_tool("dynamic_books_collection_post", {"body": {"title": "Dune"}})

    assert invalid.is_error
    problem = invalid.structured_content
    assert problem is not None
    assert problem["type"] == f"{helpers.PROBLEM_PREFIX}validation-error"
    assert problem["title"]
    assert problem["detail"]
    assert problem["type"] in text_of(invalid)
    assert not created.is_error
    assert created.structured_content is not None
    assert created.structured_content["title"] == "Dune"


@pytest.mark.settings(rate_limit_default="3/minute")
async def test_tool_calls_count_against_the_keys_rate_limit(
    started: Running, context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    admin = await helpers.committed_admin_headers(context, committing_client)
    key = await api_key(context, Scope.API_READ)
    await specs.create(committing_client, admin, specs.static(auth="scope:api:read"))

    async with http_client(started.asgi, {"X-API-Key": key}) as client:
        await client.list_tools()  # 1 of 3
        allowed = [await client.call_tool("dynamic_status_static_get", {}) for _ in range(2)]
        refused = await client.call_tool("dynamic_status_static_get", {})

    assert not any(result.is_error for result in allowed)
    assert refused.is_error
    assert refused.structured_content is not None
    assert refused.structured_content["type"] == f"{helpers.PROBLEM_PREFIX}rate-limited"
    assert refused.structured_content["status"] == 429


@pytest.mark.settings(dynamic_endpoints_sync_seconds=0.1)
async def test_a_dynamic_endpoint_registered_on_another_instance_becomes_a_tool(
    started: Running, settings: Settings, context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    admin = await helpers.committed_admin_headers(context, committing_client)
    key = await api_key(context, Scope.API_READ)

    async with running(create_app(settings)) as other, http_client(other.asgi, {"X-API-Key": key}) as client:
        await specs.create(committing_client, admin, specs.static(auth="scope:api:read"))  # through the first

        async def listed() -> bool:
            return "dynamic_status_static_get" in tool_names((await client.list_tools()).tools)

        await eventually(listed, message="the other instance never offered the new endpoint")


@pytest.mark.settings(log_format="json", log_level="INFO")
async def test_a_tool_call_is_logged_as_the_request_it_stands_for(
    started: Running, context: AppContext, committing_client: httpx.AsyncClient
) -> None:
    admin = await helpers.committed_admin_headers(context, committing_client)
    key = await api_key(context, Scope.API_READ)
    await specs.create(committing_client, admin, specs.static(path="/api/v1/x/logged", auth="scope:api:read"))

    with captured_log() as log:
        async with http_client(started.asgi, {"X-API-Key": key}) as client:
            await client.call_tool("dynamic_status_static_get", {})

    [line] = [record for record in log.records("app.access") if record.get("mcp_tool")]
    assert line["mcp_tool"] == "dynamic_status_static_get"
    assert line["path"] == "/api/v1/x/logged"
    assert line["method"] == "GET"
    assert line["status"] == 200
    assert line["request_id"]
