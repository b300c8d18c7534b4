"""Aggregation: fetch every configured source at once, within one deadline, and return all of them or fail.

All or nothing: the first source to fail cancels the others (`gather_all_or_nothing`), and the deadline
(`fetch_with_timeout`) cancels whatever is still running. Each body is streamed and abandoned past the byte cap,
so a huge upstream is never held in memory; a body in any Content-Encoding but identity is refused unread (a few
KB of gzip can inflate to gigabytes, far past the cap within one chunk). Errors name the failing sources by their
configured name, never by URL: URLs are internal (hosts, ports, perhaps credentials in a query string) and
upstream bodies are not echoed.
"""

from collections.abc import Iterable, Mapping

import httpx
import structlog
from pydantic import AnyHttpUrl, JsonValue
from pydantic_core import from_json

from app.core.exceptions import UpstreamFailedError, UpstreamTimeoutError
from app.features.aggregate.concurrency import fetch_with_timeout, gather_all_or_nothing

__all__ = ["aggregate"]

_log = structlog.get_logger("app.aggregate")
# Identity: a compressed body could expand far past the cap within one chunk before the cap is checked. An
# upstream may compress anyway, so the answer's Content-Encoding is checked too.
_REQUEST_HEADERS = {"accept": "application/json", "accept-encoding": "identity"}
_IDENTITY = frozenset({"", "identity"})


class _SourceError(Exception):
    """One source failed; `reason` completes "Upstream source 'name' ..." and is safe to show to clients."""

    def __init__(self, source: str, reason: str, *, timed_out: bool = False) -> None:
        super().__init__(f"{source} {reason}")
        self.source = source
        self.reason = reason
        self.timed_out = timed_out


async def _read_capped(response: httpx.Response, *, source: str, max_bytes: int) -> bytes:
    if response.headers.get("content-encoding", "").strip().lower() not in _IDENTITY:
        # Its name is the upstream's to choose: not echoed to clients.
        raise _SourceError(source, "answered with an encoded body (Content-Encoding other than identity)")
    too_large = _SourceError(source, f"answered with more than {max_bytes} bytes")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large  # refused before a byte of the body is read
    body = bytearray()
    # Raw: the bytes as received, never through a decoder, so the cap counts exactly what is held.
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > max_bytes:
            raise too_large  # leaving `client.stream` closes the connection; the rest is never read
    return bytes(body)


async def _fetch_json(client: httpx.AsyncClient, *, source: str, url: str, max_bytes: int) -> JsonValue:
    try:
        async with client.stream("GET", url, headers=_REQUEST_HEADERS) as response:
            if not response.is_success:
                raise _SourceError(source, f"answered HTTP {response.status_code}")
            body = await _read_capped(response, source=source, max_bytes=max_bytes)
    except httpx.TimeoutException as exc:  # one of the client's own timeouts (FORGE_HTTP_*_TIMEOUT)
        raise _SourceError(source, "timed out", timed_out=True) from exc
    except httpx.HTTPError as exc:  # refused, reset, protocol error, undecodable body...
        raise _SourceError(source, "could not be read (connection failed)") from exc
    try:
        value: JsonValue = from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        raise _SourceError(source, "answered with a body that is not JSON") from exc
    return value


def _failed(errors: Iterable[BaseException]) -> UpstreamFailedError | UpstreamTimeoutError:
    failures = sorted((e for e in errors if isinstance(e, _SourceError)), key=lambda e: e.source)
    for failure in failures:
        cause = type(failure.__cause__).__name__ if failure.__cause__ is not None else None
        _log.warning("upstream_failed", source=failure.source, reason=failure.reason, cause=cause)
    detail = "; ".join(f"Upstream source {f.source!r} {f.reason}" for f in failures) + "."
    sources = [f.source for f in failures]
    if all(f.timed_out for f in failures):
        return UpstreamTimeoutError(detail, sources=sources)
    return UpstreamFailedError(detail, sources=sources)


async def aggregate(
    *, client: httpx.AsyncClient, sources: Mapping[str, AnyHttpUrl], timeout_seconds: float, max_bytes: int
) -> dict[str, JsonValue]:
    """Every source's JSON document by name, fetched concurrently within `timeout_seconds` overall.

    Raises `UpstreamTimeoutError` (504) naming the sources still outstanding at the deadline, or
    `UpstreamFailedError` (502) naming the sources that answered a non-2xx status, could not be reached, sent
    more than `max_bytes` or something other than JSON. Either way nothing is returned and nothing keeps running.
    No sources, no work: the result is empty.
    """
    outstanding = set(sources)

    async def fetch(source: str, url: AnyHttpUrl) -> JsonValue:
        value = await _fetch_json(client, source=source, url=str(url), max_bytes=max_bytes)
        outstanding.discard(source)
        return value

    fetches = {source: fetch(source, url) for source, url in sources.items()}
    try:
        return await fetch_with_timeout(gather_all_or_nothing(fetches), seconds=timeout_seconds)
    except* _SourceError as group:
        raise _failed(group.exceptions) from None
    except* TimeoutError:
        late = ", ".join(repr(source) for source in sorted(outstanding))
        msg = f"Upstream source(s) {late} did not answer within {timeout_seconds:g} s."
        raise UpstreamTimeoutError(msg, sources=outstanding) from None
