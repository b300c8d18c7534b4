"""The app's job types (docs/jobs.md), as `models.py` holds its models: what the workers run.

`forge serve`'s embedded worker and `forge worker` processes both run the types listed here. A feature declares its
job types (`@job_type(...)` on the handler) and adds them to `job_types()`.
"""

from typing import Any

from app.core.jobs import JobRegistry, JobType, Periodic

__all__ = ["job_registry", "job_types", "periodic_jobs"]


def job_types() -> tuple[JobType[Any], ...]:
    """Every job type of the app."""
    return ()


def periodic_jobs() -> tuple[Periodic[Any], ...]:
    """The jobs enqueued on a schedule: `Periodic(job_type=..., schedule=Cron("0 3 * * *"), payload=...)`."""
    return ()


def job_registry() -> JobRegistry:
    return JobRegistry(job_types(), periodic=periodic_jobs())
