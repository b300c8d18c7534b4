from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.core.jobs import JobState

__all__ = ["JobRead"]


class JobRead(BaseModel):
    """A job as admins see it: its payload, attempts and, after a failure, the last error."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str
    state: JobState
    payload: Any
    run_at: datetime
    attempts: int
    max_attempts: int
    worker: str | None
    lease_until: datetime | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
