"""Build the limiter the settings describe (the lifespan owns it and the Redis connection)."""

from redis.asyncio import Redis

from app.config import RateLimitBackend, Settings
from app.core.ratelimit._decision import Backend
from app.core.ratelimit._limiter import RateLimiter
from app.core.ratelimit._memory import MemoryBackend
from app.core.ratelimit._policy import PolicySet, parse_limits
from app.core.ratelimit._redis import RedisBackend

__all__ = ["POLICY_SETTINGS", "build_policies", "build_rate_limiter"]

# Policy name -> the setting that defines it.
POLICY_SETTINGS = {
    "default": "rate_limit_default",
    "login": "rate_limit_login",
    "login_account": "rate_limit_login_account",
    "register": "rate_limit_register",
    "auth_failures": "rate_limit_auth_failures",
    "mfa": "rate_limit_mfa",
    "mfa_account": "rate_limit_mfa_account",
    "password_reset": "rate_limit_password_reset",
    "password_reset_account": "rate_limit_password_reset_account",
    "email_verification": "rate_limit_email_verification",
}


def build_policies(settings: Settings) -> dict[str, PolicySet]:
    policies: dict[str, PolicySet] = {}
    for name, field in POLICY_SETTINGS.items():
        try:
            policies[name] = PolicySet(name, parse_limits(getattr(settings, field)))
        except ValueError as exc:
            msg = f"FORGE_{field.upper()}: {exc}"
            raise ValueError(msg) from exc
    return policies


def build_rate_limiter(settings: Settings, redis: Redis | None) -> RateLimiter | None:
    if not settings.rate_limit_enabled:
        return None
    backend: Backend
    if settings.effective_rate_limit_backend is RateLimitBackend.REDIS:
        if redis is None:
            msg = "the Redis rate-limit backend needs a Redis client"
            raise ValueError(msg)
        backend = RedisBackend(
            redis, key_prefix=settings.rate_limit_key_prefix, timeout_seconds=settings.redis_timeout_seconds
        )
    else:
        backend = MemoryBackend(max_keys=settings.rate_limit_max_keys)
    return RateLimiter(backend, build_policies(settings), fail_open=settings.rate_limit_fail_open)
