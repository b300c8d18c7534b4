"""The Redis client, when `FORGE_REDIS_URL` is set: short timeouts, so that a dead Redis never hangs a request."""

from redis.asyncio import Redis

from app.config import Settings

__all__ = ["create_redis"]


def create_redis(settings: Settings) -> Redis | None:
    if settings.redis_url is None:
        return None
    return Redis.from_url(
        settings.redis_url.get_secret_value(),
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        health_check_interval=30,
    )
