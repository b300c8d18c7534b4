"""The Redis client, when `FORGE_REDIS_URL` is set: short timeouts, so that a dead Redis never hangs a request."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from app.config import Settings

__all__ = ["create_redis", "follow_channel", "reconnecting"]


def reconnecting() -> dict[str, Any]:
    """Client options that survive a Redis restart.

    `Redis.from_url` retries nothing: after a restart every pooled connection is dead, and each fails one command
    ("Connection closed by server") before the pool replaces it, so `/readyz` reported a healthy Redis unavailable
    seconds after it came back. Two quick retries on a fresh connection absorb that; the callers' own deadlines
    (`asyncio.timeout`) still bound a real outage. Timeouts are not retried: a slow Redis would only get busier.
    """
    return {
        "retry": Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=2),
        "retry_on_error": [RedisConnectionError],
        "health_check_interval": 30,
    }


def create_redis(settings: Settings) -> Redis | None:
    if settings.redis_url is None:
        return None
    return Redis.from_url(
        settings.redis_url.get_secret_value(),
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        **reconnecting(),
    )


type Warn = Callable[..., object]

_RESUBSCRIBE_SECONDS = 1.0


async def follow_channel(
    settings: Settings,
    channel: str,
    *,
    on_subscribed: Callable[[], Awaitable[object]],
    on_message: Callable[[bytes | str], Awaitable[object]],
    warn: Warn,
    lost: str,
) -> None:
    """Stay subscribed to `channel` until cancelled: `on_subscribed` each time the subscription (re)starts, to catch
    up on what was published while it was down; `on_message` with each message's data. A lost subscription is
    logged (`warn(lost)`) and made again a second later."""
    assert settings.redis_url is not None  # noqa: S101 - only called with Redis configured
    # A client of its own without a read timeout: the subscription waits for messages as long as it takes.
    client = Redis.from_url(
        settings.redis_url.get_secret_value(), socket_connect_timeout=settings.redis_timeout_seconds, **reconnecting()
    )
    try:
        while True:
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(channel)
                    await on_subscribed()
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                        if message is not None:
                            await on_message(message["data"])
            except Exception:  # noqa: BLE001 - Redis went away: resubscribe (the callers' periodic checks cover the gap)
                warn(lost, exc_info=True)
                await asyncio.sleep(_RESUBSCRIBE_SECONDS)
    finally:
        await client.aclose()
