from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["EventRead"]


class EventRead(BaseModel):
    """A domain event as admins see it: what happened, to what, and when."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str
    data: dict[str, Any]
    occurred_at: datetime
