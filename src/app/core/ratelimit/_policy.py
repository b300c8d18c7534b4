"""Rate-limit policies: `100/minute`, or several joined with `;` such as `10/second;100/minute`."""

import re
from dataclasses import dataclass, field

__all__ = ["Limit", "PolicySet", "parse_limits"]

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86_400}
_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d+\s*)?(second|minute|hour|day)s?\s*$", re.IGNORECASE)
MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class Limit:
    """`limit` requests per `window` seconds, with bursts of up to `limit`.

    `emission_us` is the time one request "costs" (the window divided by the limit) in whole microseconds;
    both are precomputed because the limiter reads them on every request.
    """

    limit: int
    window: int
    window_us: int = field(init=False, repr=False, compare=False)
    emission_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "window_us", self.window * MICROS)
        object.__setattr__(self, "emission_us", self.window * MICROS // self.limit)

    def __str__(self) -> str:
        return f"{self.limit}/{self.window}s"


@dataclass(frozen=True, slots=True)
class PolicySet:
    """A named group of limits that all apply to the same requests (a request passes only if all allow it)."""

    name: str
    limits: tuple[Limit, ...]
    # Header fragments, constant per set, so built once: the RateLimit-Policy value (`"default";q=100;w=60`),
    # each limit's quoted label, and whole fields: `RateLimit-Policy` and each limit's `X-RateLimit-Limit`.
    header: bytes = field(init=False, repr=False, compare=False)
    quoted_labels: tuple[bytes, ...] = field(init=False, repr=False, compare=False)
    policy_field: tuple[bytes, bytes] = field(init=False, repr=False, compare=False)
    limit_fields: tuple[tuple[bytes, bytes], ...] = field(init=False, repr=False, compare=False)
    # Each limit's five header fields for a client with its full allowance (a new one, or one whose allowance
    # is restored): the verdict most requests get, whose fields are then constant too. Such a verdict is an
    # admission whose reset time is exactly one emission interval (`full_allowance_reset_us`); its remaining
    # count follows from that, as every GCRA remaining count follows from its reset time.
    full_allowance_fields: tuple[tuple[tuple[bytes, bytes], ...], ...] = field(init=False, repr=False, compare=False)
    full_allowance_reset_us: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        labels = tuple(f'"{self.label(i)}"'.encode() for i in range(len(self.limits)))
        header = b", ".join(
            b"%s;q=%d;w=%d" % (q, lim.limit, lim.window) for q, lim in zip(labels, self.limits, strict=True)
        )
        object.__setattr__(self, "header", header)
        object.__setattr__(self, "quoted_labels", labels)
        object.__setattr__(self, "policy_field", (b"ratelimit-policy", header))
        fields = tuple((b"x-ratelimit-limit", b"%d" % limit.limit) for limit in self.limits)
        object.__setattr__(self, "limit_fields", fields)
        object.__setattr__(self, "full_allowance_reset_us", tuple(limit.emission_us for limit in self.limits))
        full = (
            self.fields(i, (limit.window_us - limit.emission_us) // limit.emission_us, limit.emission_us)
            for i, limit in enumerate(self.limits)
        )
        object.__setattr__(self, "full_allowance_fields", tuple(full))

    def fields(self, index: int, remaining: int, reset_after_us: int) -> tuple[tuple[bytes, bytes], ...]:
        """The five header fields of a verdict on this set's limit `index` alone (the common case)."""
        left = b"%d" % remaining
        reset = b"%d" % -(-reset_after_us // MICROS)  # whole seconds, rounded up
        return (
            self.policy_field,
            (b"ratelimit", self.quoted_labels[index] + b";r=" + left + b";t=" + reset),
            self.limit_fields[index],
            (b"x-ratelimit-remaining", left),
            (b"x-ratelimit-reset", reset),
        )

    def label(self, index: int) -> str:
        """The policy's name in the RateLimit headers: the set's name, suffixed by the window when there are several."""
        if len(self.limits) == 1:
            return self.name
        return f"{self.name}-{self.limits[index].window}s"


def parse_limits(spec: str) -> tuple[Limit, ...]:
    """Parse `10/second;100/minute` (units: second, minute, hour, day; `5/10minutes` is allowed)."""
    limits: list[Limit] = []
    for part in filter(None, (piece.strip() for piece in spec.split(";"))):
        match = _LIMIT.match(part)
        if match is None:
            msg = f"invalid rate limit {part!r}: expected e.g. '100/minute' or '10/second;1000/hour'"
            raise ValueError(msg)
        count, multiplier, unit = match.groups()
        window = int(multiplier or 1) * _UNITS[unit.lower()]
        if int(count) < 1 or window < 1:
            msg = f"invalid rate limit {part!r}: the count and the window must be positive"
            raise ValueError(msg)
        if int(count) > window * MICROS:
            msg = f"invalid rate limit {part!r}: at most one request per microsecond can be told apart"
            raise ValueError(msg)
        limits.append(Limit(limit=int(count), window=window))
    if not limits:
        msg = "a rate limit needs at least one 'N/unit' part"
        raise ValueError(msg)
    return tuple(limits)
