from pydantic import BaseModel, ConfigDict, JsonValue

__all__ = ["AggregateRead"]


class AggregateRead(BaseModel):
    """Every configured source's JSON document, by source name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: dict[str, JsonValue]
