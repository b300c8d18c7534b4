"""A clock for code that takes one (the rate limiter's `now`), so that tests decide when time passes."""

__all__ = ["FakeClock"]


class FakeClock:
    """Microseconds that move only when the test says so."""

    def __init__(self, start: int = 1_000_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * 1_000_000)
