"""The `job` table: one row per job, from enqueue to its last state."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, utcnow

__all__ = ["Job", "JobState"]


class JobState(StrEnum):
    QUEUED = "queued"  # waiting for its run_at (a new job, or one whose failed attempt is to be retried)
    RUNNING = "running"  # claimed by a worker until lease_until
    SUCCEEDED = "succeeded"
    DEAD = "dead"  # failed its last attempt; kept with its last error until retried or cancelled
    CANCELLED = "cancelled"


class Job(Base):
    __tablename__ = "job"
    # The claim reads queued jobs by due time, the reaper running jobs by lease: one index serves both. The admins'
    # listing of one state's jobs, newest first, pages by (state, id).
    __table_args__ = (
        Index("ix_job_state_run_at", "state", "run_at"),
        Index("ix_job_state_id", "state", "id"),
        UniqueConstraint("unique_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[Any] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)  # attempts started
    max_attempts: Mapped[int]  # the type's, when enqueued: the reaper decides in SQL, without the registry
    worker: Mapped[str | None] = mapped_column(String(64))  # the claimer, while running
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # The enqueuing request's span (W3C traceparent), so that the job's span continues its trace.
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # A periodic job's tick (`<type>@<tick>`): every worker enqueues it, the constraint lets one insert through.
    unique_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
