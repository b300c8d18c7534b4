"""RFC 9457 problem details: the single place where errors become HTTP responses.

Every error leaves the service as `application/problem+json` with `type`, `title`, `status`, `detail` and
`instance`, plus `request_id` and, for invalid input, `errors` (one entry per invalid field, each with a JSON
pointer). Inputs are never echoed back: a rejected password must not reappear in a response body.
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope, Send

from app.core import tracing
from app.core.exceptions import ConflictError, ForgeError, InvalidInputError, ServiceUnavailableError

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_SCHEMA_REF",
    "PROBLEM_TYPE_SCHEMA_REF",
    "Problem",
    "ProblemFieldError",
    "install_exception_handlers",
    "install_problem_schema",
    "problem_body",
    "problem_type",
    "problem_types",
    "send_problem",
    "validation_errors",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
_PROBLEM_TYPE_PREFIX = "urn:forgeapi:problem:"
_log = structlog.get_logger("app.errors")


PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"
PROBLEM_TYPE_SCHEMA_REF = "#/components/schemas/ProblemType"


class ProblemFieldError(BaseModel):
    """One invalid input of a 422 problem."""

    location: str = Field(description="`body`, `query`, `path` or `header`.")
    pointer: str = Field(description="A JSON pointer to the invalid value within its location (`#/items/0/quantity`).")
    detail: str
    code: str = Field(description="A stable, machine-readable reason (`missing`, `string_too_short`...).")


class Problem(BaseModel):
    """An RFC 9457 problem: every error is answered with one, as `application/problem+json`.

    Some problems carry the extension members listed here; others may be added, as RFC 9457 allows.
    """

    # Documents the body for OpenAPI only: the handlers below build it as bytes, without this model.

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(description=f"`{_PROBLEM_TYPE_PREFIX}<slug>`, or `about:blank` for plain HTTP errors.")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str = Field(description="The request path.")
    request_id: str | None = Field(default=None, description="The request's `X-Request-ID`; quote it to support.")
    errors: list[ProblemFieldError] | None = Field(default=None, description="422: one entry per invalid input.")
    sources: list[str] | None = Field(default=None, description="502/504: the upstream sources that failed.")
    retry_after: int | None = Field(default=None, description="429: seconds until a retry may succeed.")
    checks: dict[str, str] | None = Field(default=None, description="503 from /readyz: each check's outcome.")


def _error_classes(base: type[ForgeError] = ForgeError) -> Iterator[type[ForgeError]]:
    for subclass in base.__subclasses__():
        yield subclass
        yield from _error_classes(subclass)


def _documented_problem() -> type[Problem]:
    """`Problem` with the extension members that the errors defined so far declare (`ForgeError.problem_fields`):
    features add members to their problems without core knowing them."""
    fields: dict[str, Any] = {}
    for error in _error_classes():
        for name, field in error.problem_fields.items():
            fields[name] = (field.type | None, Field(default=None, description=field.description))
    return create_model("Problem", __base__=Problem, __doc__=Problem.__doc__, **fields) if fields else Problem


def problem_types() -> dict[str, str]:
    """Every problem `type` the service answers with, by a constant's name (`INSUFFICIENT_STOCK`): one per error
    class defined so far, and `about:blank` for plain HTTP errors (no such route, a method not allowed)."""
    slugs = sorted({ForgeError.slug, *(error.slug for error in _error_classes())})
    return {"ABOUT_BLANK": "about:blank"} | {slug.upper().replace("-", "_"): problem_type(slug) for slug in slugs}


def _problem_type_schema() -> dict[str, Any]:
    # An enum component of its own, named: generated clients turn it into a named enum (`ProblemType`), so that a
    # client tells one problem from another by a constant its compiler checks. `x-enum-varnames` names the
    # constants (openapi-python-client and @hey-api/openapi-ts read it) after the slugs, not the URNs.
    types = problem_types()
    return {
        "type": "string",
        "enum": list(types.values()),
        "x-enum-varnames": list(types),
        "title": "ProblemType",
        "description": f"A problem's `type`: `{_PROBLEM_TYPE_PREFIX}<slug>`, or `about:blank` for plain HTTP errors.",
    }


def _problem_schemas() -> dict[str, Any]:
    schema = _documented_problem().model_json_schema(ref_template="#/components/schemas/{model}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    schema["properties"]["type"] = {"$ref": PROBLEM_TYPE_SCHEMA_REF}
    return {**definitions, "Problem": schema, "ProblemType": _problem_type_schema()}


def install_problem_schema(app: FastAPI) -> None:
    """Add `Problem` to the OpenAPI components, for the error responses that `ForgeRoute` documents with it.

    Not through FastAPI's `responses={...: {"model": ...}}`: that documents the model as `application/json`.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document.setdefault("components", {}).setdefault("schemas", {}).update(_problem_schemas())
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def problem_type(slug: str) -> str:
    return f"{_PROBLEM_TYPE_PREFIX}{slug}"


def problem_body(
    *, status: int, title: str, detail: str, instance: str, slug: str | None, extensions: Mapping[str, Any]
) -> bytes:
    body: dict[str, Any] = {
        "type": problem_type(slug) if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update(extensions)
    return orjson.dumps(body)


async def send_problem(
    scope: Scope, send: Send, error: ForgeError, *, extra_headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Answer with `error` directly on the ASGI channel: for middleware, which runs outside the exception handlers."""
    tracing.record_error(error.slug, error.detail, status_code=error.status)
    extensions = dict(error.extensions)
    if (request_id := scope.get("state", {}).get("request_id")) is not None:
        extensions["request_id"] = request_id
    body = problem_body(
        status=error.status,
        title=error.title,
        detail=error.detail,
        instance=scope["path"],
        slug=error.slug,
        extensions=extensions,
    )
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in error.headers.items()),
        *extra_headers,
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _request_id(request: Request) -> str | None:
    state: Mapping[str, Any] = request.scope.get("state", {})
    value = state.get("request_id")
    return value if isinstance(value, str) else None


def _respond(
    request: Request,
    *,
    status: int,
    title: str,
    detail: str,
    slug: str | None = None,
    extensions: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    extra = dict(extensions or {})
    if (request_id := _request_id(request)) is not None:
        extra["request_id"] = request_id
    content = problem_body(
        status=status, title=title, detail=detail, instance=request.url.path, slug=slug, extensions=extra
    )
    return Response(content, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _escape_pointer_token(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def error_message(error: Mapping[str, Any]) -> str:
    """What one Pydantic error says, in words a client reads (no "Value error, " prefix)."""
    # A ValueError raised by a validator reads "Value error, give at least one field to change" in Pydantic's
    # words: the validator's own sentence is the message.
    if error.get("type") == "value_error" and (cause := (error.get("ctx") or {}).get("error")) is not None:
        return str(cause)
    return str(error.get("msg", "Invalid value"))


def validation_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Turn Pydantic/FastAPI error dicts into problem `errors` entries, without the offending input."""
    entries: list[dict[str, str]] = []
    for error in errors:
        location, *path = error.get("loc", ()) or ("body",)
        entries.append(
            {
                "location": str(location),
                "pointer": "#/" + "/".join(_escape_pointer_token(part) for part in path) if path else "#",
                "detail": error_message(error),
                "code": str(error.get("type", "invalid")),
            }
        )
    return entries


async def _handle_forge_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ForgeError)  # noqa: S101 - registered for ForgeError only
    extensions = dict(exc.extensions)
    errors = getattr(exc, "errors", None)
    if errors:
        extensions["errors"] = [
            {"location": e.location, "pointer": e.pointer, "detail": e.message, "code": e.code} for e in errors
        ]
    if exc.status >= 500:  # noqa: PLR2004
        _log.warning("service_error", status=exc.status, detail=exc.detail)
    tracing.record_error(exc.slug, exc.detail, status_code=exc.status)
    return _respond(
        request,
        status=exc.status,
        title=exc.title,
        detail=exc.detail,
        slug=exc.slug,
        extensions=extensions,
        headers=exc.headers,
    )


def _is_malformed_json(errors: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return next((e for e in errors if e.get("type") == "json_invalid"), None)


async def _handle_request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for RequestValidationError only
    errors = exc.errors()
    if (malformed := _is_malformed_json(errors)) is not None:
        reason = (malformed.get("ctx") or {}).get("error", "invalid JSON")
        position = malformed.get("loc", ("body", 0))[-1]
        tracing.record_error("malformed-json", "The request body is not valid JSON.", status_code=400)
        return _respond(
            request,
            status=400,
            title="Malformed JSON",
            detail=f"The request body is not valid JSON: {reason} (at character {position}).",
            slug="malformed-json",
        )
    tracing.record_error("validation-error", f"{len(errors)} invalid field(s)", status_code=422)
    return _respond(
        request,
        status=422,
        title="Invalid Input",
        detail=f"The request has {len(errors)} invalid field(s); see `errors`.",
        slug="validation-error",
        extensions={"errors": validation_errors(errors)},
    )


async def _handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for HTTPException only
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    if exc.status_code == 404 and detail is None:  # noqa: PLR2004
        detail = f"No resource at {request.url.path}."
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # noqa: PLR2004
        detail = detail or f"{request.method} is not allowed on {request.url.path}."
        # Starlette names only the first route matching the path; several routes may share it (GET and POST).
        headers["Allow"] = ", ".join(_allowed_methods(request))
    detail = detail or phrase
    # As every other problem answered: an `exception` event on the span (404s too: they are events on a span that
    # exists anyway, and 4xx leave its status unset). The type is the phrase's slug, e.g. `method-not-allowed`.
    tracing.record_error(phrase.lower().replace(" ", "-"), detail, status_code=exc.status_code)
    return _respond(request, status=exc.status_code, title=phrase, detail=detail, headers=headers or None)


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    # Asked of the router through the public `matches`, one method at a time: routes may be nested routers.
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]


def _sqlstate(exc: Exception) -> str:
    return str(getattr(getattr(exc, "orig", None), "sqlstate", "") or "")


def _is_data_exception(exc: Exception) -> bool:
    # SQLSTATE class 22, "data exception": asyncpg's errors reach SQLAlchemy as a plain DBAPIError carrying it.
    return isinstance(exc, DataError) or _sqlstate(exc).startswith("22")


async def _handle_integrity_error(request: Request, exc: Exception) -> Response:
    # A constraint the service did not check first (or lost a race on): never show the SQL, say "conflict".
    _log.info("integrity_error", error_class=type(exc.orig).__name__ if isinstance(exc, DBAPIError) else None)
    conflict = ConflictError("The request conflicts with the current state of the resource.")
    return await _handle_forge_error(request, conflict)


# sqlite3 reports both transient conditions and bugs (e.g. "no such column") as OperationalError.
_SQLITE_TRANSIENT = ("locked", "busy", "unable to open", "disk i/o")
# asyncpg's server errors reach SQLAlchemy as a plain DBAPIError: these SQLSTATEs say "try again": connection
# exceptions (08), too many connections (53300) and other exhausted resources (53), serialization failures and
# deadlocks (40001, 40P01), a lock not available (55P03), a cancelled statement (57014) and the server shutting
# down, crashing or still starting (57P01-57P03).
_TRANSIENT_SQLSTATES = ("08", "53", "40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03")


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError) and type(exc.orig).__module__.startswith("sqlite3"):
        message = str(exc.orig).lower()
        return any(marker in message for marker in _SQLITE_TRANSIENT)
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeoutError, ConnectionError, TimeoutError)):
        return True
    return _sqlstate(exc).startswith(_TRANSIENT_SQLSTATES)


async def _handle_database_error(request: Request, exc: Exception) -> Response:
    # Lost connections, lock and pool timeouts, failover: transient for the client (503), logged in full for the
    # operator. A value the database refused that the schemas let through (a NUL character in text on PostgreSQL):
    # 422. Any other database error is a bug: re-raised, it becomes a 500 (logged) in the request middleware.
    if _is_data_exception(exc):
        _log.info("data_error", error_class=type(exc.orig).__name__ if isinstance(exc, DBAPIError) else None)
        invalid = InvalidInputError("A value in the request cannot be stored (e.g. it contains a NUL character).")
        return await _handle_forge_error(request, invalid)
    if not _is_transient(exc):
        raise exc
    _log.error("database_unavailable", exc_info=exc)
    unavailable = ServiceUnavailableError("The database is temporarily unavailable.", retry_after_seconds=1)
    return await _handle_forge_error(request, unavailable)


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ForgeError, _handle_forge_error)
    app.add_exception_handler(RequestValidationError, _handle_request_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(IntegrityError, _handle_integrity_error)
    # DBAPIError: data errors and what asyncpg reports generically. TimeoutError and ConnectionError: a database
    # connection that could not be made in time, or was refused or reset, surfaces as the driver's own exception.
    for database_error in (DBAPIError, PoolTimeoutError, ConnectionError, TimeoutError):
        app.add_exception_handler(database_error, _handle_database_error)
