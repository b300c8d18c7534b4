"""Rate limiting: GCRA over an in-process or Redis backend, with client identity behind trusted proxies.

See docs/rate-limiting.md for the algorithm's accuracy, the backends, the headers and the configuration.
"""

from app.core.ratelimit._decision import Backend, BackendUnavailableError, Decision
from app.core.ratelimit._gcra import Outcome, gcra
from app.core.ratelimit._identity import (
    UNKNOWN_CLIENT,
    TrustedProxies,
    address_key,
    client_ip_key,
    forwarded_chain,
)
from app.core.ratelimit._limiter import RateLimiter
from app.core.ratelimit._memory import MemoryBackend
from app.core.ratelimit._policy import MICROS, Limit, PolicySet, parse_limits
from app.core.ratelimit._redis import RedisBackend
from app.core.ratelimit._setup import POLICY_SETTINGS, build_policies, build_rate_limiter

__all__ = [
    "MICROS",
    "POLICY_SETTINGS",
    "UNKNOWN_CLIENT",
    "Backend",
    "BackendUnavailableError",
    "Decision",
    "Limit",
    "MemoryBackend",
    "Outcome",
    "PolicySet",
    "RateLimiter",
    "RedisBackend",
    "TrustedProxies",
    "address_key",
    "build_policies",
    "build_rate_limiter",
    "client_ip_key",
    "forwarded_chain",
    "gcra",
    "parse_limits",
]
