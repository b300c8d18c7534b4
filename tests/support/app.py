"""A started app, served in-process as a server would serve it: each request gets a copy of the lifespan state."""

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import httpx
from fastapi import FastAPI

from app.config import Settings
from app.core.context import CONTEXT_KEY, AppContext, WithLifespanState
from app.main import create_app
from tests.support.settings import BASE_URL

__all__ = ["Running", "running", "started_with_client"]


@dataclass(frozen=True, slots=True)
class Running:
    app: FastAPI
    asgi: WithLifespanState  # what an httpx.ASGITransport serves: the app, with the lifespan state per request
    context: AppContext


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[Running]:
    """The app between its start-up and its shutdown (both run here, as a server's lifespan would run them)."""
    async with app.router.lifespan_context(app) as state:
        lifespan_state = cast("Mapping[str, Any]", state)
        yield Running(app, WithLifespanState(app, lifespan_state), lifespan_state[CONTEXT_KEY])


async def started_with_client(stack: AsyncExitStack, settings: Settings) -> tuple[AppContext, httpx.AsyncClient]:
    """An app made from `settings`, started on `stack`, and a client of it: one instance of several in a test."""
    started = await stack.enter_async_context(running(create_app(settings)))
    client = await stack.enter_async_context(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL)
    )
    return started.context, client
