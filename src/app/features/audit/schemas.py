from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from app.core.audit import MAX_ACTION_LENGTH, MAX_TARGET_ID_LENGTH, MAX_TARGET_TYPE_LENGTH
from app.core.identifiers import MAX_ID
from app.core.input import InputModel

__all__ = ["AuditEntryRead", "AuditFilters"]


class AuditEntryRead(BaseModel):
    """One admin action: who (the user, and the API key if one was used), what, to what, when, in which request, and
    the fields it changed (secrets and encrypted values as `[masked]`)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor_user_id: int
    actor_api_key_id: int | None
    action: str = Field(description="`<target type>.<verb>`, e.g. `product.update`, `job.retry`.")
    target_type: str
    target_id: str
    request_id: str | None
    before: dict[str, Any] | None = Field(description="The changed fields as they were; null for a creation.")
    after: dict[str, Any] | None = Field(description="The changed fields as they became; null for a deletion.")


class AuditFilters(InputModel):
    """The audit listing's filters: all that are given must match."""

    # Lax, as query strings are text. Read by a QueryModel (core/query_models.py), which passes it only its own
    # fields: the page's and other parameters of the query string are not unknown fields of the filters.
    model_config = ConfigDict(strict=False)

    actor_user_id: Annotated[int | None, Field(ge=1, le=MAX_ID, description="Only this administrator's actions.")] = (
        None
    )
    target_type: Annotated[str | None, Field(min_length=1, max_length=MAX_TARGET_TYPE_LENGTH)] = None
    target_id: Annotated[
        str | None, Field(min_length=1, max_length=MAX_TARGET_ID_LENGTH, description="With or without target_type.")
    ] = None
    action: Annotated[str | None, Field(min_length=1, max_length=MAX_ACTION_LENGTH)] = None
    since: Annotated[AwareDatetime | None, Field(description="From this time on (inclusive), with its offset.")] = None
    until: Annotated[AwareDatetime | None, Field(description="Before this time (exclusive), with its offset.")] = None

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.since is not None and self.until is not None and self.since >= self.until:
            msg = "since must be before until"
            raise ValueError(msg)
        return self
