"""One delivery attempt over HTTP, and what it means: delivered, worth retrying (when), or final.

The request goes to the address `network.pin` checked, with a deadline over the whole attempt (resolution,
connection, request, response), no redirect followed, no proxy or certificate settings from the environment, and
at most RESPONSE_READ_BYTES of the answer read (raw, never decompressed) before the connection is dropped.
"""

import asyncio
import random
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

import httpx

from app.core.database import utcnow
from app.features.webhooks.network import AddressRefusedError, ResolutionError, Resolver, pin, system_resolver

__all__ = [
    "RESPONSE_READ_BYTES",
    "SCHEDULE",
    "Attempt",
    "Verdict",
    "next_attempt_at",
    "parse_retry_after",
    "send",
    "verdict_of",
]

RESPONSE_READ_BYTES = 4096
_EXCERPT_CHARACTERS = 200
# When each attempt is made, after the previous one failed: Svix's schedule (immediately, 5 s, 5 min, 30 min, 2 h,
# 5 h, 10 h, 10 h), then two days more, so that a receiver has about three days (75.6 h) to come back.
SCHEDULE = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
    timedelta(hours=24),
    timedelta(hours=24),
)
_LONGEST_RETRY_AFTER = timedelta(hours=24)
_RETRIED_STATUSES = frozenset({408, 429})
_jitter = random.Random()  # noqa: S311 - spreading retries needs no cryptographic randomness


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # a network error, a timeout, 408, 429 or 5xx
    FINAL = "final"  # any other answer (a 4xx, a redirect), or an address that may not be sent to


@dataclass(frozen=True, slots=True)
class Attempt:
    verdict: Verdict
    latency_ms: int
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None
    retry_after: timedelta | None = None  # what the receiver asked for (Retry-After)

    @property
    def summary(self) -> str:
        return self.error or f"HTTP {self.status_code}"


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header: delay-seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return timedelta(seconds=int(value.strip()))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(timedelta(0), moment - now) if moment.tzinfo is not None else None


def verdict_of(status: int) -> tuple[Verdict, str | None]:
    """What a response status means for the delivery, and the error to record."""
    if 200 <= status < 300:  # noqa: PLR2004
        return Verdict.DELIVERED, None
    if status in _RETRIED_STATUSES or 500 <= status < 600:  # noqa: PLR2004
        return Verdict.RETRY, f"HTTP {status}"
    if 300 <= status < 400:  # noqa: PLR2004
        return Verdict.FINAL, f"HTTP {status}: redirects are not followed"
    return Verdict.FINAL, f"HTTP {status}"


async def _read_capped(response: httpx.Response) -> bytes:
    received = bytearray()
    async for chunk in response.aiter_raw():
        received += chunk
        if len(received) >= RESPONSE_READ_BYTES:
            break
    return bytes(received[:RESPONSE_READ_BYTES])


async def send(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    deadline_seconds: float,
    require_https: bool,
    allow_private: bool,
    resolve: Resolver = system_resolver,
    tls_context: ssl.SSLContext | None = None,
) -> Attempt:
    """POST `body` to `url` once, within `deadline_seconds` in all. `tls_context` is whom https trusts: httpx's
    default (the certifi bundle, certificates and host names verified) unless a caller brings its own CA."""
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        async with asyncio.timeout(deadline_seconds):
            pinned = await pin(url, require_https=require_https, allow_private=allow_private, resolve=resolve)
            # A client per attempt: pooled connections are keyed by address, and one made for another host name
            # (another SNI, another certificate) must never carry this request.
            async with (
                httpx.AsyncClient(
                    timeout=deadline_seconds,
                    follow_redirects=False,
                    trust_env=False,
                    verify=tls_context if tls_context is not None else True,
                ) as client,
                client.stream(
                    "POST",
                    pinned.url,
                    content=body,
                    headers={**headers, "host": pinned.host_header, "accept-encoding": "identity"},
                    extensions=pinned.extensions,
                ) as response,
            ):
                excerpt = await _read_capped(response)
    except AddressRefusedError as exc:
        return Attempt(Verdict.FINAL, elapsed(), error=f"refused: {exc}")
    except ResolutionError as exc:
        return Attempt(Verdict.RETRY, elapsed(), error=str(exc))
    except (TimeoutError, httpx.TimeoutException):
        return Attempt(Verdict.RETRY, elapsed(), error=f"timed out after {deadline_seconds:g} s")
    except httpx.TransportError as exc:
        return Attempt(Verdict.RETRY, elapsed(), error=f"{type(exc).__name__}: {exc}"[:500])
    verdict, error = verdict_of(response.status_code)
    retry_after = response.headers.get("retry-after") if verdict is Verdict.RETRY else None
    return Attempt(
        verdict,
        elapsed(),
        status_code=response.status_code,
        error=error,
        response_excerpt=excerpt.decode("utf-8", "replace")[:_EXCERPT_CHARACTERS] or None,
        retry_after=parse_retry_after(retry_after, utcnow()),
    )


def next_attempt_at(attempt: Attempt, *, number: int, now: datetime) -> datetime | None:
    """When attempt `number` (from 1) is followed by another: on the schedule (with up to 10 % added, so that
    deliveries that failed together do not all come back at once), or later if the receiver asked; None when the
    attempt was final or the schedule has no attempt left."""
    if attempt.verdict is not Verdict.RETRY or number >= len(SCHEDULE):
        return None
    delay = SCHEDULE[number] * (1 + _jitter.uniform(0, 0.1))
    if attempt.retry_after is not None:
        delay = max(delay, min(attempt.retry_after, _LONGEST_RETRY_AFTER))
    return now + delay
