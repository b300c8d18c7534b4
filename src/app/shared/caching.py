"""Edge caching of public reads: `Cache-Control` for browsers and CDNs, a strong `ETag` of the body, and 304s.

A route opts in with `@edge_cached()` placed beneath its route decorator; `ForgeRoute` then passes the route's
200 responses through `cache_response`, after FastAPI has serialised the response model to JSON bytes:

    Cache-Control:     public, max-age=0, s-maxage=60, stale-while-revalidate=30
    CDN-Cache-Control: public, max-age=60, stale-while-revalidate=30       (RFC 9213: the CDN's own TTL)
    ETag:              "<32 hex digits of BLAKE2b over the identity body>"  ("...-gzip" when gzipped)
    Vary:              Accept-Encoding

`If-None-Match` naming the current tag (weak comparison, RFC 9110 §13.1.2), or `*`, gets a 304 with those four
headers and no body. Every other response, errors included, gets `Cache-Control: private, no-store` from the
`PrivateByDefault` request unit, so nothing user-specific is ever stored by a browser or a shared cache.

ETag and gzip. A strong ETag names exact bytes, and a gzipped body is other bytes, so the two codings of one body
need two tags (RFC 9110 §8.8.3); Starlette's `GZipMiddleware` compresses without touching the ETag. So this module
compresses its own responses, with the same rule as `GZipMiddleware` (the substring `gzip` in `Accept-Encoding`
and at least `FORGE_GZIP_MINIMUM_SIZE` bytes), and gives the gzipped body the identity tag suffixed with `-gzip`,
as Apache's mod_deflate does. Deciding the coding here, before compressing, also lets a 304 carry exactly the tag
the 200 would have carried, and spares the compression when the answer is a 304. The gzip stream is deterministic
(no timestamp in its header), so the `-gzip` tag is strong too. `GZipMiddleware` passes responses that already
have a `Content-Encoding` through, and itself adds `Vary: Accept-Encoding` to the identity bodies it could have
compressed; this module adds `Vary` to the others.
"""

import hashlib
import re
import zlib
from collections.abc import Buffer, Callable, Coroutine, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from starlette.requests import Request
from starlette.responses import Response

from app.config import Settings
from app.core.context import context_of
from app.core.response_cache import StoredResponse
from app.shared.pipeline import RawHeaders, RequestCycle, RequestUnit

__all__ = [
    "PRIVATE_NO_STORE",
    "EdgeCache",
    "Handler",
    "PrivateByDefault",
    "accepts_gzip",
    "answer",
    "cache_response",
    "cached_handler",
    "edge_cache_policy",
    "edge_cached",
    "entity_tag",
    "if_none_match",
    "represent",
    "response_cache_namespace",
]

PRIVATE_NO_STORE = b"private, no-store"
_DEFAULT_CACHE_CONTROL = (b"cache-control", PRIVATE_NO_STORE)
GZIP_SUFFIX = "-gzip"
# GZipMiddleware's default level, so that both compress alike; wbits 31: a gzip stream whose header has mtime 0.
_GZIP_LEVEL = 9
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_VARY = (b"vary", b"Accept-Encoding")
# An entity tag in an If-None-Match list: optional weakness prefix, then the quoted opaque tag (RFC 9110 §8.8.3).
_ENTITY_TAG = re.compile(r'(?:W/)?"([^"]*)"')

type Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass(frozen=True, slots=True)
class EdgeCache:
    """How long browsers (`max_age`) and shared caches such as CDNs (`s_maxage`) may reuse a response, and how
    long past that a cache may serve it while it revalidates in the background. `None` takes the
    `FORGE_EDGE_CACHE_*` setting."""

    max_age: int | None = None
    s_maxage: int | None = None
    stale_while_revalidate: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_age", "s_maxage", "stale_while_revalidate"):
            value = getattr(self, name)
            if value is not None and value < 0:
                msg = f"EdgeCache.{name} must not be negative"
                raise ValueError(msg)

    def header_values(self, settings: Settings) -> tuple[bytes, bytes]:
        """The `Cache-Control` and `CDN-Cache-Control` values under `settings` (built once per combination)."""
        return _directives(
            settings.edge_cache_max_age if self.max_age is None else self.max_age,
            settings.edge_cache_s_maxage if self.s_maxage is None else self.s_maxage,
            (
                settings.edge_cache_stale_while_revalidate
                if self.stale_while_revalidate is None
                else self.stale_while_revalidate
            ),
        )


@lru_cache(maxsize=64)
def _directives(max_age: int, s_maxage: int, stale_while_revalidate: int) -> tuple[bytes, bytes]:
    swr = b"stale-while-revalidate=%d" % stale_while_revalidate
    return (
        b"public, max-age=%d, s-maxage=%d, %s" % (max_age, s_maxage, swr),
        b"public, max-age=%d, %s" % (s_maxage, swr),
    )


_policies: WeakKeyDictionary[Callable[..., Any], EdgeCache] = WeakKeyDictionary()


_namespaces: WeakKeyDictionary[Callable[..., Any], str] = WeakKeyDictionary()


def edge_cached[F: Callable[..., Any]](
    policy: EdgeCache | None = None, *, namespace: str | None = None
) -> Callable[[F], F]:
    """Mark a GET endpoint as publicly cacheable; place it beneath the route decorator.

    Only for answers that are the same for every caller: the response is stored by shared caches (`public`)
    even when the request carried credentials (RFC 9111 §3.5). With `namespace`, the app's response cache keeps
    its answers too, until a write marks that namespace changed (`app.core.response_cache.mark_changed`).
    """

    def mark(endpoint: F) -> F:
        _policies[endpoint] = policy or EdgeCache()
        if namespace is not None:
            _namespaces[endpoint] = namespace
        return endpoint

    return mark


def edge_cache_policy(endpoint: Callable[..., Any]) -> EdgeCache | None:
    return _policies.get(endpoint)


def response_cache_namespace(endpoint: Callable[..., Any]) -> str | None:
    """The response-cache namespace of an `@edge_cached(namespace=...)` endpoint."""
    return _namespaces.get(endpoint)


def entity_tag(body: Buffer, *, gzipped: bool) -> str:
    """The strong ETag of an identity body, as sent for that body or, with `gzipped`, for its gzip coding."""
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()
    return f'"{digest}{GZIP_SUFFIX}"' if gzipped else f'"{digest}"'


def if_none_match(field_values: Iterable[str], etag: str) -> bool:
    """Whether `If-None-Match` (all its field lines) is `*` or lists `etag`, compared weakly (RFC 9110 §8.8.3.2):
    `W/"x"` matches `"x"`. A malformed member matches nothing, so the client simply gets a 200."""
    opaque = etag.removeprefix("W/")
    for value in field_values:
        if value.strip() == "*":
            return True
        if any(f'"{tag}"' == opaque for tag in _ENTITY_TAG.findall(value)):
            return True
    return False


def _gzip(body: Buffer) -> bytes:
    compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
    return compressor.compress(body) + compressor.flush()


def represent(request: Request, response: Response, policy: EdgeCache) -> StoredResponse:
    """A serialised 200 response as this request gets it: its coding (gzip or identity) chosen, its caching headers
    and ETag added, and the headers of its 304 beside; what the response cache keeps."""
    settings = context_of(request).settings
    body = bytes(response.body)
    large = len(body) >= settings.gzip_minimum_size
    gzipped = large and accepts_gzip(request)
    etag = entity_tag(body, gzipped=gzipped)
    cache_control, cdn_cache_control = policy.header_values(settings)
    headers: RawHeaders = [
        (b"cache-control", cache_control),
        (b"cdn-cache-control", cdn_cache_control),
        (b"etag", etag.encode()),
    ]
    not_modified = (*headers, _VARY)
    if gzipped:
        body = _gzip(body)
        headers += [(b"content-encoding", b"gzip"), _VARY]
    elif not large:
        headers.append(_VARY)  # larger identity bodies get it from GZipMiddleware
    kept = [(name, value) for name, value in response.raw_headers if name != b"content-length"]
    return StoredResponse(
        body=body,
        headers=(*kept, (b"content-length", b"%d" % len(body)), *headers),
        etag=etag,
        not_modified_headers=not_modified,
    )


def answer(request: Request, stored: StoredResponse) -> Response:
    """The response to send for `stored`: a 304 when the request's `If-None-Match` names its ETag."""
    if stored.etag is not None and if_none_match(request.headers.getlist("if-none-match"), stored.etag):
        response = Response(status_code=304)
        response.raw_headers = list(stored.not_modified_headers)
        return response
    response = Response(stored.body)
    response.raw_headers = list(stored.headers)
    return response


def accepts_gzip(request: Request) -> bool:
    """Whether the request's body is sent gzipped (when large enough): `GZipMiddleware`'s own test."""
    return "gzip" in request.headers.get("accept-encoding", "")


def cache_response(request: Request, response: Response, policy: EdgeCache) -> Response:
    """Add the caching headers to a serialised 200 response; a 304 instead when `If-None-Match` matches."""
    answered = answer(request, represent(request, response, policy))
    answered.background = response.background
    return answered


def cached_handler(handler: Handler, policy: EdgeCache) -> Handler:
    """Wrap a route handler so that its 200 responses go through `cache_response`."""

    async def respond(request: Request) -> Response:
        response = await handler(request)
        # Only a complete 200 body can be hashed: errors, and streamed or file responses, pass through untouched.
        if response.status_code != 200 or not hasattr(response, "body"):  # noqa: PLR2004
            return response
        return cache_response(request, response, policy)

    return respond


class PrivateByDefault(RequestUnit):
    """`Cache-Control: private, no-store` on every response that sets none (all but the `@edge_cached` reads):
    user-specific answers and problem+json errors must never be stored by a browser or a shared cache."""

    def response_headers(self, cycle: RequestCycle, headers: RawHeaders) -> None:  # noqa: ARG002 - every answer
        for name, _ in headers:
            if name == b"cache-control":
                return
        headers.append(_DEFAULT_CACHE_CONTROL)
