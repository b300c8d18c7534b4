"""The article's limiter, verbatim in substance (../shared/seed/): the baseline our limiter is measured against."""

import time
from collections import defaultdict
from dataclasses import dataclass, field

__all__ = ["SlidingWindowCounter"]


@dataclass
class SlidingWindowCounter:
    window_size: int = 60
    max_requests: int = 100
    requests: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def is_allowed(self, key: str) -> bool:
        now = time.time()
        window_start = now - self.window_size
        self.requests[key] = [ts for ts in self.requests[key] if ts > window_start]
        if len(self.requests[key]) >= self.max_requests:
            return False
        self.requests[key].append(now)
        return True
