from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.input import InputModel

__all__ = ["EndpointKind", "EndpointSpecRead", "EndpointSpecWrite", "HttpMethod", "plain_json"]

type EndpointKind = Literal["collection", "static"]
type HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]

NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
AUTH_PATTERN = r"^(public|user|admin|scope:[a-z0-9_]+:[a-z0-9_]+)$"


def plain_json(value: Any) -> Any:
    """JSON as the database stores it: the API parses fractions as `Decimal` (for money), JSON columns want floats."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dict):
        return {key: plain_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_json(item) for item in value]
    return value


class EndpointSpecWrite(InputModel):
    """A spec as an administrator writes it (POST and PUT, and one item of `forge endpoints export`)."""

    name: Annotated[str, Field(pattern=NAME_PATTERN, description="Unique; names the operations in OpenAPI.")]
    path: Annotated[str, Field(max_length=200, description="Under /api/v1/x/; `{name}`, `{name:int}`, `{name:uuid}`.")]
    kind: EndpointKind
    method: Annotated[HttpMethod | None, Field(description="For `static` specs only.")] = None
    summary: Annotated[str, Field(max_length=200)] = ""
    auth: Annotated[str, Field(pattern=AUTH_PATTERN, description="public, user, admin or scope:<api key scope>.")] = (
        "admin"
    )
    request_schema: Annotated[dict[str, Any] | None, Field(description="JSON Schema Draft 2020-12.")] = None
    response_schema: Annotated[dict[str, Any] | None, Field(description="JSON Schema Draft 2020-12.")] = None
    example: Annotated[Any, Field(description="A static spec's response; validated against response_schema.")] = None
    cacheable: Annotated[
        bool,
        Field(description="Serve GETs from the response cache (public specs only); writes through it invalidate it."),
    ] = False
    enabled: Annotated[
        bool,
        Field(
            description="false: kept (with a collection's documents, its name and its path) but not served: its "
            "routes answer 404 and leave the OpenAPI document until it is enabled again."
        ),
    ] = True

    @field_validator("request_schema", "response_schema", "example", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return plain_json(value)


class EndpointSpecRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    path: str
    kind: str
    method: str | None
    summary: str
    auth: str
    request_schema: dict[str, Any] | None
    response_schema: dict[str, Any] | None
    example: Any
    cacheable: bool
    enabled: bool
    version: int
    created_by: int | None
    updated_by: int | None
    created_at: datetime
    updated_at: datetime
