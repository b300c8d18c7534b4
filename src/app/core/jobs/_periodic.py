"""Periodic jobs: a job type, a payload and a schedule; every worker enqueues each tick, and a unique key per tick
(`<type>@<tick>`) lets exactly one of those inserts through, so a tick runs once across all workers.

Ticks are computed the same way by every worker (a cron expression, or a period aligned to the Unix epoch), which
is what makes their keys agree. A tick missed while no worker ran is not made up: a worker enqueues the current
tick only.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from cronsim import CronSim, CronSimError
from pydantic import BaseModel

from app.core.jobs._registry import JobType

__all__ = ["Cron", "Every", "Periodic", "Schedule"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Schedule(Protocol):
    def after(self, moment: datetime) -> datetime:
        """The first tick strictly after `moment` (timezone-aware)."""
        ...


@dataclass(frozen=True, slots=True)
class Cron:
    """A five-field cron expression, in UTC: `Cron("0 3 * * *")` is every day at 03:00 UTC."""

    expression: str

    def __post_init__(self) -> None:
        try:
            CronSim(self.expression, _EPOCH)
        except CronSimError as exc:
            msg = f"invalid cron expression {self.expression!r}: {exc}"
            raise ValueError(msg) from None

    def after(self, moment: datetime) -> datetime:
        tick: datetime = next(CronSim(self.expression, moment.astimezone(UTC)))
        return tick


@dataclass(frozen=True, slots=True)
class Every:
    """A fixed period, its ticks at whole multiples of it since the Unix epoch (so every worker agrees)."""

    seconds: float

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            msg = "a period must be positive"
            raise ValueError(msg)

    def after(self, moment: datetime) -> datetime:
        elapsed = (moment - _EPOCH).total_seconds()
        return _EPOCH + timedelta(seconds=(elapsed // self.seconds + 1) * self.seconds)


@dataclass(frozen=True, slots=True, kw_only=True)
class Periodic[P: BaseModel]:
    """Enqueue a `job_type` job with `payload` at every tick of `schedule`."""

    job_type: JobType[P]
    schedule: Schedule
    payload: P

    def key(self, tick: datetime) -> str:
        return f"{self.job_type.name}@{tick.astimezone(UTC).isoformat()}"


type AnyPeriodic = Periodic[Any]
