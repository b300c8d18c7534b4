from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.core.input import InputModel
from app.features.api_keys.models import Scope

__all__ = ["ApiKeyCreate", "ApiKeyCreated", "ApiKeyRead"]


class ApiKeyCreate(InputModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    # strict=False for these two only: JSON carries scopes as strings and datetimes as ISO 8601 text.
    scopes: Annotated[list[Annotated[Scope, Field(strict=False)]], Field(min_length=1, max_length=len(Scope))]
    expires_at: Annotated[AwareDatetime | None, Field(strict=False)] = None


class ApiKeyRead(BaseModel):
    """A key as listings show it: never the secret, only a hint of its last characters."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    hint: str
    scopes: list[Scope]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret. Shown this once: store it now; it cannot be retrieved again.")
