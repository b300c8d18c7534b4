"""Job types: a name, a payload model, an async handler and how it is run (timeout, attempts, retry backoff)."""

import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from app.config import Settings
from app.core.database import Database

if TYPE_CHECKING:
    from app.core.events import Events  # which enqueues through this package: a type only, no import cycle
    from app.core.jobs._periodic import AnyPeriodic
    from app.core.mail import Mailer
    from app.core.metrics import JobMetrics

__all__ = ["Backoff", "GiveUp", "Handler", "JobContext", "JobRegistry", "JobType", "RetryLater", "job_type"]

_MAX_NAME_LENGTH = 100  # the `job.type` column
_jitter = random.Random()  # noqa: S311 - spreading retries needs no cryptographic randomness


@dataclass(frozen=True, slots=True, kw_only=True)
class JobContext:
    """What a handler knows of the run: `job_id` is stable across attempts, the key for idempotent effects."""

    job_id: int
    job_type: str
    attempt: int  # from 1
    max_attempts: int
    worker_id: str
    database: Database  # for handlers that read or write: open a session of their own
    events: "Events"  # the app's, with its subscriptions: an event recorded in a handler's session feeds them too
    settings: Settings  # the app's configuration
    mailer: "Mailer | None" = None  # the app's, for the mail.send job (docs/mail.md)
    metrics: "JobMetrics | None" = None  # the worker's, where handlers count their own facts (webhook deliveries)


type Handler[P] = Callable[[P, JobContext], Awaitable[None]]


class RetryLater(Exception):  # noqa: N818 - named for what the handler asks, as GiveUp is
    """Raised by a handler whose attempt failed: the next attempt is due at `at` rather than after the type's
    backoff (a fixed retry schedule, an upstream's Retry-After). After the type's last attempt the job is dead, as
    for any failure."""

    def __init__(self, reason: str, *, at: datetime) -> None:
        super().__init__(reason)
        self.at = at


class GiveUp(Exception):  # noqa: N818
    """Raised by a handler whose attempt failed in a way that no retry can mend: the job is dead at once, with this
    reason as its last error, whatever attempts it had left (an admin can still retry it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Exponential backoff with jitter: after failed attempt n, wait base * factor**(n-1), capped at `max_seconds`,
    then drawn uniformly from its upper half (so that jobs that failed together do not retry together)."""

    base_seconds: float = 5.0
    factor: float = 2.0
    max_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if self.base_seconds < 0 or self.factor < 1 or self.max_seconds < self.base_seconds:
            msg = f"invalid backoff {self}"
            raise ValueError(msg)

    def delay(self, failed_attempt: int) -> float:
        ceiling = min(self.max_seconds, self.base_seconds * self.factor ** max(0, failed_attempt - 1))
        return _jitter.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobType[P: BaseModel]:
    """A kind of job. Its payload is validated by `payload` when enqueued and again before each run."""

    name: str
    payload: type[P]
    handler: Handler[P]
    timeout_seconds: float = 60.0
    max_attempts: int = 5
    backoff: Backoff = field(default_factory=Backoff)

    def __post_init__(self) -> None:
        if not 0 < len(self.name) <= _MAX_NAME_LENGTH:
            msg = f"a job type's name has 1 to {_MAX_NAME_LENGTH} characters: {self.name!r}"
            raise ValueError(msg)
        if self.timeout_seconds <= 0 or self.max_attempts < 1:
            msg = f"job type {self.name}: timeout_seconds must be > 0 and max_attempts >= 1"
            raise ValueError(msg)

    async def run(self, payload: Any, context: JobContext) -> None:
        await self.handler(self.payload.model_validate(payload), context)


def job_type[P: BaseModel](
    *,
    name: str,
    payload: type[P],
    timeout_seconds: float = 60.0,
    max_attempts: int = 5,
    backoff: Backoff | None = None,
) -> Callable[[Handler[P]], JobType[P]]:
    """Declare a job type by decorating its handler: `@job_type(name="mail.welcome", payload=Welcome)`."""

    def declare(handler: Handler[P]) -> JobType[P]:
        return JobType(
            name=name,
            payload=payload,
            handler=handler,
            timeout_seconds=timeout_seconds,
            max_attempts=max_attempts,
            backoff=backoff or Backoff(),
        )

    return declare


class JobRegistry:
    """The job types a worker runs, by name. A worker claims only jobs of these types."""

    def __init__(self, types: Iterable[JobType[Any]] = (), *, periodic: Iterable["AnyPeriodic"] = ()) -> None:
        self.periodic = tuple(periodic)
        self._types: dict[str, JobType[Any]] = {}
        listed = list(types)
        # A periodic job's type is run by the workers too; listing it twice (as the same object) is no error.
        listed += [entry.job_type for entry in self.periodic if entry.job_type not in listed]
        for kind in listed:
            if kind.name in self._types:
                msg = f"job type {kind.name!r} is registered twice"
                raise ValueError(msg)
            self._types[kind.name] = kind

    def __bool__(self) -> bool:
        return bool(self._types)

    def get(self, name: str) -> JobType[Any] | None:
        return self._types.get(name)

    @property
    def names(self) -> list[str]:
        return sorted(self._types)

    @property
    def longest_timeout(self) -> float:
        return max((kind.timeout_seconds for kind in self._types.values()), default=0.0)
