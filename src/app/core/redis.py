"""The Redis client, when `FORGE_REDIS_URL` is set: short timeouts, so that a dead Redis never hangs a request."""

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from app.config import Settings

__all__ = ["create_redis", "reconnecting"]


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
