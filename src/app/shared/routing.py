"""`ForgeRoute`: FastAPI's route with two changes to how a request body is read, edge caching on request, and
every error status it can answer documented in OpenAPI.

- 415 for a body in a media type the operation does not accept. FastAPI parses a body as JSON only when the
  Content-Type says JSON; any other type reaches validation as raw bytes and ends as a puzzling 422.
- JSON numbers with a fraction are parsed as `Decimal`, not `float`, so that money arrives exactly as the client
  wrote it (`19.99` stays `19.99`), and the non-standard `NaN`/`Infinity` literals are refused.
- Error responses are documented from what the route is made of (see `documented_errors`): 413 and 500
  everywhere, 429 and 503 behind the rate limiter, 400/415/422 for a body, 422 for parameters, 404 for a path
  parameter, and whatever its dependencies declare with `@answers(...)` (401 for authentication, 403 for
  authorisation). Routes declare the rest (`responses={409: {"description": ...}}`). Every 4xx/5xx response is
  documented as an `application/problem+json` `Problem`, so that the schema matches what the handlers send.
"""

import inspect
import json
import re
from collections.abc import Callable, Coroutine, Iterable, Iterator
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from weakref import WeakKeyDictionary

from fastapi import APIRouter, FastAPI, params
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from app.core.exceptions import UnsupportedMediaTypeError

# Re-exported: features scaffolded before ResourceID moved to core import it from here, and `copier update` must not
# break a project's own code. New code imports app.core.identifiers.
from app.core.identifiers import MAX_ID, ResourceID
from app.core.operational import OPERATIONAL_PATHS
from app.core.problems import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA_REF
from app.core.query_models import QueryModel
from app.shared.caching import EdgeCache, Handler, cached_handler, edge_cache_policy, response_cache_namespace
from app.shared.response_cache import stored_handler

__all__ = [
    "ADMIN_EXTENSION",
    "BODY_ERRORS",
    "MAX_ID",
    "ForgeRoute",
    "ResourceID",
    "accepts_json",
    "answers",
    "common_errors",
    "documented_errors",
    "error_responses",
    "include_flat",
    "media_type_of",
    "require_media_type",
]

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def accepts_json(media_type: str) -> bool:
    """Whether a body of `media_type` is parsed as JSON: `application/json` or any `application/*+json`; the one
    check of built-in routes (`ForgeRoute`) and dynamic endpoints."""
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def media_type_of(request: Request) -> str:
    """The request's Content-Type without its parameters, lower-cased; empty when there is none."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_media_type(
    request: Request, *, accepted: Callable[[str], bool] = accepts_json, expected: str = "application/json"
) -> None:
    """The 415 of built-in routes and dynamic endpoints alike, unless the body's media type is `accepted`."""
    if not accepted(media_type := media_type_of(request)):
        msg = f"This operation takes {expected}, not {media_type or 'no Content-Type'}."
        raise UnsupportedMediaTypeError(msg)


def _refuse_constant(name: str) -> Any:
    msg = f"{name} is not valid JSON"
    raise ValueError(msg)


# A JSON escape of a UTF-16 surrogate; valid pairs combine into one character, lone ones cannot be stored.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


class ExactJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                parsed = json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
                if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(parsed):
                    msg = "a string holds a lone UTF-16 surrogate"
                    raise ValueError(msg)
            except json.JSONDecodeError:
                raise
            except (ValueError, RecursionError) as exc:  # NaN, bad UTF-8, huge integers, deep nesting...
                # Re-raised as a decode error, so that FastAPI reports it like any malformed JSON (400).
                raise json.JSONDecodeError(str(exc) or type(exc).__name__, "", 0) from exc
            self._json = parsed
        return self._json


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in request.headers


# The generic description of each error status; a route's own `responses` entry replaces it.
_ERROR_DESCRIPTIONS = {
    400: "The body cannot be parsed: malformed JSON (`malformed-json`) or form data.",
    401: "Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`).",
    403: "Authenticated, but not allowed: not an administrator, or an API key without the scope.",
    404: "No such resource (or not the caller's).",
    409: "The request conflicts with the current state of the resource.",
    413: "The request body exceeds FORGE_MAX_BODY_BYTES.",
    415: "The body's Content-Type is not one the operation takes.",
    422: "Invalid input: `errors` lists each invalid field with a JSON pointer.",
    429: "Over a rate limit: `Retry-After` says when to retry.",
    500: "A bug: logged with its traceback; quote `request_id`.",
    503: "The database, or the rate limiter's Redis when it fails closed, is unavailable (`Retry-After`).",
}
_PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}}
# Headers that every response of a status carries (AuthenticationError and RateLimitedError set them).
_ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`.", "required": True, "schema": {"type": "string"}}},
    429: {
        "Retry-After": {
            "description": "Seconds until a retry may succeed.",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}

_answers: WeakKeyDictionary[Callable[..., Any], frozenset[int]] = WeakKeyDictionary()


def answers[D: Callable[..., Any]](*statuses: int) -> Callable[[D], D]:
    """Declare the error statuses a dependency can answer with; every route that uses it documents them.

    On a class, it holds for every instance used as a dependency (`Depends(Authorized(...))`).
    """

    def mark(dependency: D) -> D:
        _answers[dependency] = frozenset(statuses)
        return dependency

    return mark


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for dependency in dependant.dependencies:
        yield from _dependants(dependency)


def _query_models(dependant: Dependant) -> list[QueryModel[Any]]:
    """The `QueryModel`s the route depends on, each once, in the order FastAPI solves them."""
    found: list[QueryModel[Any]] = []
    for call in (d.call for d in _dependants(dependant)):
        if isinstance(call, QueryModel) and call not in found:
            found.append(call)
    return found


def _with_query_parameters(route: APIRoute) -> dict[str, Any] | None:
    """The route's `openapi_extra` with its query models' parameters added (once: `include_flat` copies it)."""
    extra = dict(route.openapi_extra or {})
    listed = list(extra.get("parameters", []))
    named = {(parameter["name"], parameter["in"]) for parameter in listed}
    for model in _query_models(route.dependant):
        for parameter in model.parameters:
            if (parameter["name"], parameter["in"]) not in named:
                named.add((parameter["name"], parameter["in"]))
                listed.append(parameter)
    if listed:
        extra["parameters"] = listed
    return extra or None


def _declared_by_dependencies(dependant: Dependant) -> set[int]:
    statuses: set[int] = set()
    for call in (d.call for d in _dependants(dependant) if d.call is not None):
        for key in (call, type(call)):
            try:
                statuses |= _answers.get(key, frozenset())
            except TypeError:  # not weakly referenceable: never marked
                continue
    return statuses


# What an operation that reads a JSON (or form) body can answer because of it.
# An OpenAPI operation's marker: only administrators may call it (where its security requirements cannot say so).
ADMIN_EXTENSION = "x-forge-admin"
BODY_ERRORS = frozenset({400, 415, 422})


def common_errors(path: str) -> set[int]:
    """The error statuses any operation at `path` can answer with, whatever it is made of."""
    statuses = {413, 500}  # any request may declare a body too large; any handler may have a bug
    if path not in OPERATIONAL_PATHS:
        statuses |= {429, 503}  # the global rate limit (503 when Redis is down and it fails closed)
    return statuses


def documented_errors(route: APIRoute) -> set[int]:
    """The error statuses `route` can answer with, derived from what it is made of."""
    statuses = common_errors(route.path)
    if route.body_field is not None:
        statuses |= BODY_ERRORS
    if get_flat_params(route.dependant) or _query_models(route.dependant):
        statuses.add(422)
    if any(d.path_params for d in _dependants(route.dependant)):
        statuses.add(404)  # path parameters name resources, which may not exist
    return statuses | _declared_by_dependencies(route.dependant)


def _is_error(status: int | str) -> bool:
    return str(status).isdigit() and int(status) >= 400  # noqa: PLR2004


def _as_problem(status: int | str, response: dict[str, Any]) -> dict[str, Any]:
    documented: dict[str, Any] = {"content": _PROBLEM_CONTENT}
    if (headers := _ERROR_HEADERS.get(int(status))) is not None:
        documented["headers"] = headers
    return {**documented, **response}


def error_responses(statuses: Iterable[int]) -> dict[str, dict[str, Any]]:
    """OpenAPI `responses` for error `statuses`, documented as built-in routes document them: each an
    `application/problem+json` `Problem` with its generic description and the headers it always carries."""
    return {
        str(status): _as_problem(status, {"description": _ERROR_DESCRIPTIONS[status]}) for status in sorted(statuses)
    }


_NOT_MODIFIED_DOC = {
    "description": "Not Modified: `If-None-Match` named the current ETag. No body; ETag and Cache-Control as a 200."
}


class ForgeRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if kwargs.get("status_code") == HTTPStatus.NO_CONTENT and isinstance(
            kwargs.get("response_class"), DefaultPlaceholder
        ):
            # FastAPI answers with the default JSONResponse, which labels even an empty 204 application/json.
            kwargs["response_class"] = Response
        if edge_cache_policy(endpoint) is not None:
            kwargs["responses"] = {**(kwargs.get("responses") or {}), 304: _NOT_MODIFIED_DOC}
        super().__init__(path, endpoint, **kwargs)
        self.openapi_extra = _with_query_parameters(self)
        self.answers_head = "GET" in (self.methods or ())
        self._literal_prefix = self.path.partition("{")[0]
        # Read by FastAPI when it generates the OpenAPI document, not when it serves a request.
        generic: dict[int | str, dict[str, Any]] = {
            status: {"description": _ERROR_DESCRIPTIONS[status]} for status in documented_errors(self)
        }
        merged = {**generic, **self.responses}
        self.responses = {
            status: _as_problem(status, response) if _is_error(status) else response
            for status, response in sorted(merged.items(), key=lambda item: str(item[0]))
        }

    # HEAD is answered by the GET operation, as Starlette's own routes do: same status and headers (ETag,
    # Content-Length, rate-limit fields), and Starlette's Response sends no body for it. Not a method of the route,
    # so that OpenAPI keeps one operation (and one operation id) per GET.
    #
    # Starlette tries the routes in order, each with its regular expression, and a request for the products was
    # tried against some 40 routes before theirs (~30 µs of a request; `uv run python -m benchmarks.routing`). A
    # path that does not contain the route's literal part (what comes before its first parameter) cannot match:
    # that costs a substring test. Containment, not a prefix test, as the path may start with a root path.
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self._literal_prefix not in scope["path"]:
            return Match.NONE, {}
        match, child = super().matches(scope)
        if match is Match.PARTIAL and scope["method"] == "HEAD" and self.answers_head:
            return Match.FULL, child
        return match, child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "HEAD" and self.answers_head:
            await self.app(scope, receive, send)
        else:
            await super().handle(scope, receive, send)

    def _edge_handler(self, handler: Handler, policy: EdgeCache) -> Handler:
        namespace = response_cache_namespace(self.endpoint)
        if namespace is None:
            return cached_handler(handler, policy)
        if reads_caller := _declared_by_dependencies(self.dependant) & {401, 403}:
            # Its answer may depend on who asks (or whether they may): a stored one would be served to anyone.
            msg = f"{self.path} reads the caller (it can answer {sorted(reads_caller)}); its answers cannot be stored"
            raise TypeError(msg)
        return stored_handler(handler, policy, namespace)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if (policy := edge_cache_policy(self.endpoint)) is not None:
            if writes := (self.methods or set()) - {"GET", "HEAD"}:
                msg = f"@edge_cached is for reads; {self.path} also takes {sorted(writes)}"
                raise TypeError(msg)
            handler = self._edge_handler(handler, policy)
        if self.body_field is None:
            return handler
        is_form = isinstance(self.body_field.field_info, params.Form)
        accepted: Callable[[str], bool] = (lambda media: media in _FORM_TYPES) if is_form else accepts_json
        expected = " or ".join(_FORM_TYPES) if is_form else "application/json"

        async def check_media_type(request: Request) -> Response:
            if _has_body(request):
                require_media_type(request, accepted=accepted, expected=expected)
            return await handler(ExactJSONRequest(request.scope, request.receive))

        return check_media_type


# What APIRoute takes, beyond the path and endpoint, that a route keeps as an attribute of the same name.
_ROUTE_OPTIONS = tuple(
    name
    for name in inspect.signature(APIRoute.__init__).parameters
    if name not in {"self", "path", "endpoint", "dependency_overrides_provider"}
)


def include_flat(app: FastAPI, router: APIRouter, *, prefix: str = "") -> None:
    """Add `router`'s routes to the app's own list, under `prefix`: what `include_router` did before FastAPI 0.137.

    Since 0.137, an included router stays a node of a tree, and every request is matched through each level, once
    to choose a branch and again inside it; behind two levels (`/api/v1`, then nine feature routers), a trivial
    endpoint took about twice as long as on the app itself (`uv run python -m benchmarks.routing`).
    Only routers without router-level dependencies, responses or callbacks are taken (their prefix and tags
    are already on each route); anything else would need the tree's merging, so it is refused.
    """
    if router.dependencies or router.responses or router.callbacks:
        msg = "include_flat takes routers whose options all live on their routes; use app.include_router"
        raise ValueError(msg)
    for route in router.routes:
        if not isinstance(route, APIRoute):
            msg = f"include_flat takes API routes only, not {type(route).__name__}"
            raise TypeError(msg)
        options = {name: getattr(route, name) for name in _ROUTE_OPTIONS}
        app.router.add_api_route(prefix + route.path, route.endpoint, route_class_override=type(route), **options)
