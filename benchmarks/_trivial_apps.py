"""Trivial apps for measuring one layer: the same endpoint behind ForgeAPI's request pipeline, with and without
the rate limiter (memory backend, a limit so high that every request is admitted)."""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from app.config import Settings
from app.core.api_keys import ApiKeyHasher
from app.core.context import CONTEXT_KEY
from app.core.ratelimit import MemoryBackend, PolicySet, RateLimiter, parse_limits
from app.core.security import TokenService
from app.features.auth.addresses import TrustedProxies
from app.features.auth.caller import Identification
from app.shared.body_limit import BodyLimit
from app.shared.caching import PrivateByDefault
from app.shared.pipeline import RequestPipeline, RequestUnit
from app.shared.ratelimit import RateLimitGate
from app.shared.request_id import RequestId
from app.shared.security_headers import SecurityHeaders

__all__ = ["bare", "limited", "limited_busy", "without_limiter"]


class Hello(BaseModel):
    message: str


def bare() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> Hello:
        return Hello(message="ok")

    @app.get("/hello")
    async def hello() -> Hello:
        return Hello(message="hello")

    return app


def _with_context(gate: RateLimitGate | None) -> FastAPI:
    app = bare()
    units: list[RequestUnit] = [
        RequestId(),
        BodyLimit(1_048_576),
        SecurityHeaders(hsts=False, docs_policies={}),
        PrivateByDefault(),
        *([gate] if gate is not None else []),
    ]
    app.add_middleware(RequestPipeline, units=units)
    return app


def without_limiter() -> FastAPI:
    return _with_context(None)


@dataclass(frozen=True, slots=True)
class _LimiterOnly:
    """The parts of the app's context (app/core/context.py) that the middleware reads."""

    rate_limiter: RateLimiter
    identify: Identification


def _limited(spec: str) -> FastAPI:
    gate = RateLimitGate(tracing=False)
    settings = Settings(_env_file=None)
    identify = Identification(
        tokens=TokenService(settings),
        hasher=ApiKeyHasher(settings.api_key_pepper.get_secret_value()),
        trusted_proxies=TrustedProxies(()),
    )
    app = _with_context(gate)
    policies = {"default": PolicySet("default", parse_limits(spec))}
    limiter = RateLimiter(MemoryBackend(), policies, fail_open=True)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[Mapping[str, Any]]:
        yield {CONTEXT_KEY: _LimiterOnly(limiter, identify)}  # given to each request by the server, as ForgeAPI's is

    app.router.lifespan_context = lifespan
    return app


def limited() -> FastAPI:
    """A client under its rate: one request per microsecond comes back faster than wrk can use it up."""
    return _limited("1000000/second")


def limited_busy() -> FastAPI:
    """A client using up its allowance: at 3.6 ms a request, the TAT runs ahead of now on every request (and
    needs ~1 million requests to reach the window, more than any run sends): the arithmetic path, every time."""
    return _limited("1000000/hour")
