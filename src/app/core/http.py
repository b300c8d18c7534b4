"""The one outbound HTTP client: created and closed by the app's lifespan, shared by every request.

One `httpx.AsyncClient` per process keeps one connection pool (bounded by `FORGE_HTTP_MAX_CONNECTIONS`) and reuses
keep-alive connections across requests; a client per request would pay a TCP (and TLS) handshake every time.
Redirects are not followed (an upstream cannot send us elsewhere), and the process environment's proxy and
certificate variables are ignored (`trust_env=False`): config.py stays the only reader of the environment. With
tracing on, the client propagates W3C trace context to upstreams and records a span per request.
"""

from typing import Annotated

import httpx
from fastapi import Depends, Request
from opentelemetry.sdk.trace import TracerProvider

from app.config import Settings
from app.core.context import context_of
from app.core.tracing import instrument_http_client

__all__ = ["HttpClient", "create_http_client", "get_http_client"]


def create_http_client(settings: Settings, *, tracer_provider: TracerProvider | None) -> httpx.AsyncClient:
    """A pooled client configured from settings; the caller closes it (`await client.aclose()`)."""
    client = httpx.AsyncClient(
        limits=httpx.Limits(
            max_connections=settings.http_max_connections,
            max_keepalive_connections=settings.http_max_keepalive,
            keepalive_expiry=settings.http_keepalive_expiry,
        ),
        timeout=httpx.Timeout(
            connect=settings.http_connect_timeout,
            read=settings.http_read_timeout,
            write=settings.http_write_timeout,
            pool=settings.http_pool_timeout,
        ),
        follow_redirects=False,
        trust_env=False,
    )
    if tracer_provider is not None:
        instrument_http_client(client, tracer_provider)
    return client


async def get_http_client(request: Request) -> httpx.AsyncClient:
    return context_of(request).http_client


HttpClient = Annotated[httpx.AsyncClient, Depends(get_http_client)]
