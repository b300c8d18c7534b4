"""A started app, served in-process as a server would serve it: each request gets a copy of the lifespan state."""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from fastapi import FastAPI

from app.core.context import CONTEXT_KEY, AppContext, WithLifespanState

__all__ = ["Running", "running"]


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
