"""Compression: gzip for the clients that accept it, and every answer saying that it depends on that.

`Compression` is the ASGI layer inside the pipeline that sends such requests through Starlette's `GZipMiddleware`
(responses of at least `FORGE_GZIP_MINIMUM_SIZE` bytes are compressed) and every other request straight to the
app: `GZipMiddleware` costs each request it sees a header parse and a wrapped `send`, even when it leaves the body
alone, and most API clients (and every probe) never ask for gzip. `VaryByEncoding`, a pipeline unit, then adds
`Vary: Accept-Encoding` to every answer that lacks it: any of them could have been encoded differently for another
client, and this is cheaper than holding each response back to see whether it is large enough to compress (a
second `Vary` line is a list item of the same field, RFC 9110 section 5.3).
"""

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from app.shared.pipeline import RawHeaders, RequestCycle, RequestUnit

__all__ = ["Compression", "VaryByEncoding"]

_VARY_ACCEPT_ENCODING = (b"vary", b"Accept-Encoding")


def _accepts_gzip(headers: RawHeaders) -> bool:
    # What GZipMiddleware itself tests: the substring, in any Accept-Encoding line. A loop, not any(): every
    # request runs this, and a generator costs it a frame.
    for name, value in headers:  # noqa: SIM110
        if name == b"accept-encoding" and b"gzip" in value:
            return True
    return False


class Compression:
    def __init__(self, app: ASGIApp, *, minimum_size: int) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _accepts_gzip(scope["headers"]):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class VaryByEncoding(RequestUnit):
    def response_headers(self, cycle: RequestCycle, headers: RawHeaders) -> None:  # noqa: ARG002 - every answer
        for name, value in headers:
            if name == b"vary" and b"accept-encoding" in value.lower():
                return
        headers.append(_VARY_ACCEPT_ENCODING)
