"""Rate limiting: GCRA over an in-process or Redis backend (who a key stands for is the auth feature's business).

See docs/rate-limiting.md for the algorithm's accuracy, the backends, the headers and the configuration.
"""

from app.core.ratelimit._decision import Backend, BackendUnavailableError, Decision
from app.core.ratelimit._gcra import Outcome, gcra
from app.core.ratelimit._limiter import RateLimiter
from app.core.ratelimit._memory import MemoryBackend
from app.core.ratelimit._policy import MICROS, Limit, PolicySet, parse_limits
from app.core.ratelimit._redis import RedisBackend
from app.core.ratelimit._setup import POLICY_SETTINGS, build_policies, build_rate_limiter

__all__ = [
    "MICROS",
    "POLICY_SETTINGS",
    "Backend",
    "BackendUnavailableError",
    "Decision",
    "Limit",
    "MemoryBackend",
    "Outcome",
    "PolicySet",
    "RateLimiter",
    "RedisBackend",
    "build_policies",
    "build_rate_limiter",
    "gcra",
    "parse_limits",
]
