"""Domain exceptions: the one hierarchy that services raise and `core.problems` maps to RFC 9457 responses.

    ForgeError (500)
    ├── BadRequestError (400)
    │   └── MalformedJSONError
    ├── AuthenticationError (401)
    ├── PermissionDeniedError (403)
    ├── NotFoundError (404)
    ├── ConflictError (409)
    ├── PayloadTooLargeError (413)
    ├── UnsupportedMediaTypeError (415)
    ├── InvalidInputError (422)
    ├── RateLimitedError (429)
    ├── UpstreamFailedError (502)
    ├── ServiceUnavailableError (503)
    └── UpstreamTimeoutError (504)

Services and repositories know nothing of HTTP: each class carries only the status and the problem `type` slug
that the HTTP layer needs, so that the mapping lives in one place.

A feature's own errors live in that feature and derive from these (products' `InsufficientStockError` is a
`ConflictError`). The extension members such an error adds to its problem are declared on its class, in
`problem_fields`, and `core.problems` documents them in the `Problem` schema without knowing the feature.

`found(value, detail)` is the one "get or 404": a lookup's result, or `NotFoundError(detail)` when there is none.

A failed request writes nothing: the request's transaction is rolled back when an error escapes the handler. An
error class whose answer *is* a write sets `keeps_writes` (a reused refresh token is refused, and the refusal
revokes its session): the transaction then commits what was written before it was raised.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "FieldError",
    "ForgeError",
    "InvalidInputError",
    "MalformedJSONError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "ProblemField",
    "RateLimitedError",
    "ServiceUnavailableError",
    "UnsupportedMediaTypeError",
    "UpstreamFailedError",
    "UpstreamTimeoutError",
    "found",
]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid input: `pointer` is a JSON pointer into the request (`#/body/email`, `#/query/size`)."""

    pointer: str
    message: str
    code: str
    location: str = "body"


class ProblemField(NamedTuple):
    """An extension member that an error's problem carries: its JSON type (as a Python type) and description."""

    type: type
    description: str


class ForgeError(Exception):
    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal Server Error"
    # The extension members this error adds to its problem, documented in OpenAPI's `Problem` schema.
    problem_fields: ClassVar[Mapping[str, ProblemField]] = {}
    # True: the request's transaction commits the writes made before this was raised (see the module's docstring).
    keeps_writes: ClassVar[bool] = False

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extensions = extensions
        self.headers: dict[str, str] = {}


class BadRequestError(ForgeError):
    status = 400
    slug = "bad-request"
    title = "Bad Request"


class MalformedJSONError(BadRequestError):
    slug = "malformed-json"
    title = "Malformed JSON"


class AuthenticationError(ForgeError):
    status = 401
    slug = "unauthenticated"
    title = "Authentication Required"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers["WWW-Authenticate"] = "Bearer"


class PermissionDeniedError(ForgeError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFoundError(ForgeError):
    status = 404
    slug = "not-found"
    title = "Not Found"


def found[T](value: T | None, detail: str) -> T:
    """`value`, unless the lookup found nothing (None): then `NotFoundError(detail)`, a 404 for the client."""
    if value is None:
        raise NotFoundError(detail)
    return value


class ConflictError(ForgeError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class PayloadTooLargeError(ForgeError):
    status = 413
    slug = "payload-too-large"
    title = "Content Too Large"


class UnsupportedMediaTypeError(ForgeError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported Media Type"


class InvalidInputError(ForgeError):
    status = 422
    slug = "validation-error"
    title = "Invalid Input"

    def __init__(self, detail: str | None = None, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []


class RateLimitedError(ForgeError):
    status = 429
    slug = "rate-limited"
    title = "Too Many Requests"

    def __init__(self, detail: str | None = None, *, retry_after_seconds: int, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers["Retry-After"] = str(retry_after_seconds)


class ServiceUnavailableError(ForgeError):
    status = 503
    slug = "service-unavailable"
    title = "Service Unavailable"

    def __init__(self, detail: str | None = None, *, retry_after_seconds: int | None = None, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        if retry_after_seconds is not None:
            self.headers["Retry-After"] = str(retry_after_seconds)


class _UpstreamError(ForgeError):
    """An upstream the service depends on let a request down; `sources` names which (by name, never by URL)."""

    def __init__(self, detail: str | None = None, *, sources: Iterable[str], **extensions: Any) -> None:
        self.sources = sorted(sources)
        super().__init__(detail, sources=self.sources, **extensions)


class UpstreamFailedError(_UpstreamError):
    status = 502
    slug = "upstream-failed"
    title = "Bad Gateway"


class UpstreamTimeoutError(_UpstreamError):
    status = 504
    slug = "upstream-timeout"
    title = "Gateway Timeout"
