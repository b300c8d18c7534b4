"""The client configuration, derived from the settings alone: no database, the same answer for every caller."""

from app import TITLE, __version__
from app.config import API_PREFIX, Settings
from app.core.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from app.core.ratelimit import parse_limits
from app.features.client_config.schemas import (
    AuthConfig,
    ClientConfig,
    PaginationConfig,
    RateLimitConfig,
    RateLimitWindow,
)

__all__ = ["client_config"]


def client_config(*, settings: Settings, docs_url: str | None) -> ClientConfig:
    """What clients may know about this deployment; only settings that are public by nature, never a secret."""
    limits = parse_limits(settings.rate_limit_default) if settings.rate_limit_enabled else ()
    return ClientConfig(
        name=TITLE,
        version=__version__,
        environment=settings.environment.value,
        api_prefix=API_PREFIX,
        docs_url=docs_url,
        auth=AuthConfig(
            token_url=f"{API_PREFIX}/auth/token",
            access_token_ttl_seconds=settings.access_token_ttl_seconds,
        ),
        pagination=PaginationConfig(default_size=DEFAULT_PAGE_SIZE, max_size=MAX_PAGE_SIZE),
        rate_limit=RateLimitConfig(
            enabled=settings.rate_limit_enabled,
            default=[RateLimitWindow(requests=limit.limit, window_seconds=limit.window) for limit in limits],
        ),
        features=dict(sorted(settings.client_feature_flags.items())),
    )
