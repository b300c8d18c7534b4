"""MCP clients of the app, made with the SDK's own client: over streamable HTTP in-process (the app's ASGI
callable), or over stdio to `python -m app.cli mcp` in a subprocess; and the accounts and API keys they act with,
made through the services."""

import os
import sys
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr
from starlette.types import ASGIApp

from app.core.api_keys import ApiKeyHasher
from app.core.context import AppContext
from app.features.api_keys import service as api_keys_service
from app.features.api_keys.models import Scope
from app.features.api_keys.schemas import ApiKeyCreate
from app.features.users import service as users_service
from app.features.users.models import UserRole
from app.features.users.schemas import UserCreate
from mcp import Client
from tests import helpers
from tests.support.settings import BASE_URL, TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEY

__all__ = ["api_key", "http_client", "stdio_client", "text_of", "tool_names"]


async def api_key(context: AppContext, *scopes: Scope, admin: bool = False) -> str:
    """A new (verified) user's API key with `scopes`, committed through the app's database."""
    data = UserCreate(email=helpers.unique_email("agent"), password=SecretStr(helpers.PASSWORD))
    role = UserRole.ADMIN if admin else UserRole.USER
    hasher = ApiKeyHasher(context.settings.api_key_pepper.get_secret_value())
    async with context.database.session(writes=True) as session, session.begin():
        user = await users_service.register_user(
            session, data=data, hasher=context.password_hasher, role=role, verified=True
        )
        created = await api_keys_service.issue(
            session,
            user_id=user.id,
            is_admin=admin,
            data=ApiKeyCreate(name="agent", scopes=list(scopes)),
            hasher=hasher,
        )
    return created.key


@asynccontextmanager
async def http_client(asgi: ASGIApp, headers: Mapping[str, str]) -> AsyncIterator[Client]:
    """An MCP client of `asgi`'s `/mcp`, every message carrying `headers` (the credentials)."""
    async with (
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=asgi), headers=dict(headers)) as http,
        Client(streamable_http_client(f"{BASE_URL}/mcp", http_client=http)) as client,
    ):
        yield client


@asynccontextmanager
async def stdio_client(database_url: str, key: str, *, cwd: Path, **settings: str) -> AsyncIterator[Client]:
    """An MCP client of `python -m app.cli mcp` started with `key`, on the database at `database_url`, in `cwd`: a
    directory of the test's, where no project `.env` (a generated project's secrets: another API-key pepper) is read."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("FORGE_")}
    environment |= {
        "FORGE_ENVIRONMENT": "test",
        "FORGE_DATABASE_URL": database_url,
        "FORGE_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        "FORGE_BLIND_INDEX_KEY": TEST_BLIND_INDEX_KEY,
        "FORGE_PASSWORD_HASH_MEMORY_KIB": "1024",
        "FORGE_LOG_LEVEL": "WARNING",
        "FORGE_MCP_API_KEY": key,
        **{f"FORGE_{name.upper()}": value for name, value in settings.items()},
    }
    parameters = StdioServerParameters(
        command=sys.executable, args=["-m", "app.cli", "mcp"], env=environment, cwd=str(cwd)
    )
    async with Client(parameters) as client:
        yield client


def tool_names(tools: Iterable[types.Tool]) -> set[str]:
    return {tool.name for tool in tools}


def text_of(result: types.CallToolResult) -> str:
    block: Any = result.content[0]
    text: str = block.text
    return text
