"""The public client configuration: what a browser or mobile client needs to know before its first call."""

from pydantic import BaseModel, ConfigDict

__all__ = ["AuthConfig", "ClientConfig", "PaginationConfig", "RateLimitConfig", "RateLimitWindow"]


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True)


class PaginationConfig(_Public):
    default_size: int
    max_size: int


class RateLimitWindow(_Public):
    requests: int
    window_seconds: int


class RateLimitConfig(_Public):
    enabled: bool
    default: list[RateLimitWindow]


class AuthConfig(_Public):
    token_url: str
    access_token_ttl_seconds: int


class ClientConfig(_Public):
    """Public by design: nothing here may be a secret or differ between callers (it is cached by CDNs)."""

    name: str
    version: str
    environment: str
    api_prefix: str
    docs_url: str | None
    auth: AuthConfig
    pagination: PaginationConfig
    rate_limit: RateLimitConfig
    features: dict[str, bool]
