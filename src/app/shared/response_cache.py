"""Public reads served from the app's response cache (`app.core.response_cache`): the HTTP half.

What may be stored: the complete 200 answers of GET (and HEAD, which is answered by the GET) of routes that
declared their answer the same for every caller — `@edge_cached(namespace=...)` built-in routes, and dynamic
endpoints that are `public` and `cacheable`. `ForgeRoute` refuses to build a cached route that reads the caller
(a dependency that can answer 401 or 403), and a dynamic spec must be `public` to be `cacheable`; so neither
`Authorization`, an API key nor a cookie can decide a stored body, and they are left out of the key on purpose. A
response that sets a cookie is never stored.

The key is everything else that decides the body: the path, the raw query string (`?a=1&b=2` and `?b=2&a=1` are
two entries of the same body, never one entry of two), and whether the body is sent gzipped. Built-in routes
store the representation as sent — coding chosen, ETag and caching headers added (`caching.represent`) — so that
a hit costs neither serialisation nor compression, and `If-None-Match` is answered from it exactly as before: the
ETag/304 path is the same code with the cache on or off.
"""

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from app.core.context import context_of
from app.core.response_cache import StoredResponse
from app.shared.caching import EdgeCache, Handler, accepts_gzip, answer, cached_handler, represent

__all__ = ["RequestKey", "request_key", "stored_handler", "through_cache"]

type RequestKey = tuple[str, bytes, bool]
type Compute = Callable[[], Awaitable[Response]]
type Represent = Callable[[Response], StoredResponse]

_SET_COOKIE = b"set-cookie"


def request_key(request: Request) -> RequestKey:
    """What decides a public read's body: path, query string, and the coding it is sent in."""
    scope = request.scope
    return scope["path"], scope["query_string"], accepts_gzip(request)


def _complete_200(response: Response) -> bool:
    # Only a complete 200 body; errors, and streamed or file responses, pass through untouched.
    return response.status_code == 200 and hasattr(response, "body")  # noqa: PLR2004


def _sets_cookie(response: Response) -> bool:
    return any(name == _SET_COOKIE for name, _ in response.raw_headers)


def _plain(response: Response) -> StoredResponse:
    return StoredResponse(body=bytes(response.body), headers=tuple(response.raw_headers))


async def through_cache(
    request: Request, *, namespace: str, compute: Compute, represent_as: Represent = _plain
) -> Response:
    """The stored answer to this request, or `compute()`'s, stored (as `represent_as` makes it) when it may be."""
    cache = context_of(request).response_cache
    if cache is None or request.method not in {"GET", "HEAD"}:
        return await compute()
    key = request_key(request)
    if (stored := cache.store.get(key)) is not None:
        return answer(request, stored)
    ticket = cache.store.ticket(namespace)  # before the data is read: a write committing meanwhile voids the fill
    response = await compute()
    if not _complete_200(response):
        return response
    stored = represent_as(response)
    if not _sets_cookie(response):
        cache.store.put(key, stored, namespace=namespace, ticket=ticket)
    answered = answer(request, stored)
    answered.background = response.background
    return answered


def stored_handler(handler: Handler, policy: EdgeCache, namespace: str) -> Handler:
    """Wrap an `@edge_cached(namespace=...)` route's handler: answers from the response cache when it is on, and
    exactly as `cached_handler` does when it is off."""
    edge = cached_handler(handler, policy)

    async def respond(request: Request) -> Response:
        if context_of(request).response_cache is None:
            return await edge(request)
        return await through_cache(
            request,
            namespace=namespace,
            compute=lambda: handler(request),
            represent_as=lambda response: represent(request, response, policy),
        )

    return respond
