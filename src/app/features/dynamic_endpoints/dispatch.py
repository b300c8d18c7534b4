"""The one route that serves every dynamic endpoint: `/api/v1/x/{rest:path}`, all methods.

Starlette matches routes one by one, so a route per spec would make every request's routing cost grow with the
number of specs; here the registry's tree finds the spec (see registry.py). The catch-all is routed first, so
dynamic requests do not walk the built-in routes; no built-in route may live under the prefix
(`assert_prefix_reserved` runs at start-up), which is how a spec can never shadow one.

Requests pass through the same middleware as every route (request id, body limit, rate limit, security headers,
access log, metrics) and the same problem+json handlers. The span and the Prometheus label name the spec's path
template, not the catch-all's and never the raw path.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.telemetry._api import _route_selected as route_selected
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

from app.core.context import CONTEXT_KEY, context_of
from app.core.database import committing, get_db_session
from app.core.exceptions import MalformedJSONError
from app.core.metrics import ROUTE_TEMPLATE_STATE
from app.core.pagination import cursor_seal, page_params_of
from app.features.api_keys import service as api_keys_service
from app.features.auth.dependencies import authorize
from app.features.dynamic_endpoints import documents
from app.features.dynamic_endpoints.registry import PREFIX, Leaf
from app.features.dynamic_endpoints.state import EndpointRuntime
from app.shared.response_cache import through_cache
from app.shared.routing import require_media_type

__all__ = ["CATCH_ALL", "assert_prefix_reserved", "router"]

CATCH_ALL = PREFIX + "{rest:path}"
JSON = "application/json"
_READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# Only public specs' (the service refuses `cacheable` on others, and checked again here: a stored answer skips
# authorisation).
_CACHED_METHODS = frozenset({"GET", "HEAD"})

_MATCH = "forge.dynamic_endpoint"


class DynamicRoute(APIRoute):
    """The catch-all route, matching only paths and methods that a spec serves: another path is no match (404),
    another method a partial one, so Starlette answers 405 and the problem handler lists the spec's methods in
    `Allow` (it asks each route's `matches` per method)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.NONE:
            return match, child
        runtime: EndpointRuntime = scope["state"][CONTEXT_KEY].component(EndpointRuntime)
        found = runtime.snapshot.match(scope["path"])
        if found is None:
            return Match.NONE, {}
        child[_MATCH] = found
        return (Match.FULL if _operation(scope["method"]) in found[0] else Match.PARTIAL), child


router = APIRouter(route_class=DynamicRoute)


def _operation(method: str) -> str:
    """The spec method that answers `method`: HEAD is a GET whose body Starlette's Response does not send."""
    return "GET" if method == "HEAD" else method


def assert_prefix_reserved(app: FastAPI) -> None:
    """Refuse to start when a built-in route lives under the dynamic prefix: a spec could then shadow it."""
    for route in app.routes:
        path = getattr(route, "path", "")
        if path.startswith(PREFIX) and path != CATCH_ALL:
            msg = f"Route {path} is under {PREFIX}, which is reserved for dynamic endpoints."
            raise RuntimeError(msg)


@asynccontextmanager
async def _session(request: Request, *, writes: bool) -> AsyncIterator[AsyncSession]:
    # Opened on demand (a public static spec needs no database), so not a declared dependency; FastAPI applies
    # `dependency_overrides` to declared dependencies only, so an override of get_db_session (tests joining their
    # transaction) is honoured here by hand.
    override = request.app.dependency_overrides.get(get_db_session)
    if override is not None:
        async with asynccontextmanager(override)() as session:
            yield session
        return
    async with committing(context_of(request).database.session(writes=writes)) as session:
        yield session


def _label(request: Request, template: str) -> None:
    request.scope.setdefault("state", {})[ROUTE_TEMPLATE_STATE] = template
    if context_of(request).tracing.active:
        # FastAPI's telemetry keeps the route it selected (the catch-all) and writes it on the request span and its
        # RED metrics when the request ends; this is the hook its own router calls on selecting a route. It is
        # private: a FastAPI upgrade that moves it fails this import, and tests/.../test_observability.py.
        route_selected(scope=request.scope, path=template)


async def _authorize(request: Request, session: AsyncSession, auth: str) -> None:
    scope = api_keys_service.Scope(auth.removeprefix("scope:")) if auth.startswith("scope:") else None
    await authorize(session, request=request, scope=scope, admin=auth == "admin")


async def _json_body(request: Request) -> Any:
    require_media_type(request)
    try:
        body = await request.body()
    except ClientDisconnect:
        # As FastAPI answers a built-in route whose body cannot be read: a 400 that nobody may be left to read
        # (after the body limit's 413, the middleware drops it), never an unhandled error.
        raise HTTPException(400, "The request body could not be read.") from None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        msg = f"The request body is not valid JSON: {exc.msg} (at character {exc.pos})."
        raise MalformedJSONError(msg) from None


def _json(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type=JSON)


async def _serve(request: Request, session: AsyncSession, leaf: Leaf, raw: list[str]) -> Response:
    spec, method = leaf.spec, _operation(request.method)
    if leaf.role == "static":
        if method in _WITH_BODY and spec.request_validator is not None:
            await documents.validate_body(spec, await _json_body(request))
        return Response(spec.static_body, media_type=JSON)
    if leaf.role == "collection":
        if method == "GET":
            params = page_params_of(request.query_params, cursor_seal(request))
            return _json(await documents.list_page(session, spec=spec, params=params))
        return _json(await documents.create(session, spec=spec, body=await _json_body(request)), 201)
    document_id = int(raw[-1])
    if method == "GET":
        return _json(await documents.get(session, spec=spec, document_id=document_id))
    if method == "PUT":
        body = await _json_body(request)
        return _json(await documents.replace(session, spec=spec, document_id=document_id, body=body))
    if method == "DELETE":
        await documents.delete(session, spec=spec, document_id=document_id)
        return Response(status_code=204)
    raise HTTPException(405)  # unreachable: the methods were checked before the session was opened


@router.api_route(
    CATCH_ALL,
    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    include_in_schema=False,
)
async def dispatch(request: Request) -> Response:
    leaves, raw = request.scope[_MATCH]  # found by DynamicRoute.matches, which routed the request here
    leaf = leaves.get(_operation(request.method))
    if leaf is None:  # a partial match: the handler computes Allow from `matches`
        _label(request, next(iter(leaves.values())).template)
        raise HTTPException(405)
    _label(request, leaf.template)
    spec = leaf.spec
    if leaf.role == "static" and spec.data.auth == "public" and spec.request_validator is None:
        return Response(spec.static_body, media_type=JSON)  # the hot path: no database, bytes made once
    if spec.data.cacheable and spec.data.auth == "public" and request.method in _CACHED_METHODS:
        return await through_cache(
            request, namespace=spec.data.cache_namespace, compute=lambda: _served(request, leaf, raw)
        )
    return await _served(request, leaf, raw)


async def _served(request: Request, leaf: Leaf, raw: list[str]) -> Response:
    spec = leaf.spec
    async with _session(request, writes=request.method not in _READ_ONLY) as session:
        if spec.data.auth != "public":
            await _authorize(request, session, spec.data.auth)
        return await _serve(request, session, leaf, raw)
