"""`QueryModel` reads a query-string model as FastAPI's `Annotated[Model, Query()]` does: the same values, the
same 422s, the same OpenAPI parameters; in one validation instead of field by field."""

from typing import Annotated, Any, Self

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.problems import install_exception_handlers, install_problem_schema
from app.core.query_models import QueryModel
from app.shared.routing import ForgeRoute, include_flat


class Filters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    size: Annotated[int, Field(ge=1, le=100, description="Items per page.")] = 20
    name: Annotated[str | None, Field(max_length=5)] = None
    tags: list[str] = []
    archived: bool = False
    lowest: int | None = None
    highest: int | None = None

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.lowest is not None and self.highest is not None and self.lowest > self.highest:
            msg = "lowest must not exceed highest"
            raise ValueError(msg)
        return self


def _app() -> FastAPI:
    """The same listing twice: read by FastAPI (`/fastapi`) and by a QueryModel on a ForgeRoute (`/forge`)."""
    app = FastAPI()
    install_exception_handlers(app)
    install_problem_schema(app)

    @app.get("/fastapi")
    async def by_fastapi(filters: Annotated[Filters, Query()]) -> Filters:
        return filters

    forge = APIRouter(route_class=ForgeRoute)

    @forge.get("/forge")
    async def by_query_model(filters: Annotated[Filters, Depends(QueryModel(Filters))]) -> Filters:
        return filters

    include_flat(app, forge)
    return app


QUERIES = [
    "",
    "size=5&name=abc",
    "size=5&size=7",  # the last of a repeated key, as FastAPI takes it
    "tags=a&tags=b&archived=true",
    "tags=a",
    "size=0",
    "size=x&name=toolong",
    "lowest=5&highest=1",
    "name=",
    "other=1&size=3",
]


@pytest.mark.parametrize("query", QUERIES)
async def test_a_query_model_reads_what_fastapi_reads_and_refuses_what_it_refuses(query: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://test") as client:
        by_fastapi = await client.get(f"/fastapi?{query}")
        by_query_model = await client.get(f"/forge?{query}")
    assert by_query_model.status_code == by_fastapi.status_code
    assert by_query_model.headers["content-type"] == by_fastapi.headers["content-type"]
    assert _without_instance(by_query_model.json()) == _without_instance(by_fastapi.json())


def _without_instance(body: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in body.items() if name != "instance"}  # the path differs


def test_a_query_model_is_documented_as_fastapi_documents_the_model() -> None:
    paths = _app().openapi()["paths"]
    forge, fastapi = paths["/forge"]["get"], paths["/fastapi"]["get"]
    assert forge["parameters"] == fastapi["parameters"]
    assert [parameter["name"] for parameter in forge["parameters"]] == list(Filters.model_fields)
    assert "422" in forge["responses"]


def test_include_flat_documents_each_parameter_once() -> None:
    app = _app()
    copied = FastAPI()
    include_flat(copied, APIRouter(routes=[route for route in app.router.routes if isinstance(route, ForgeRoute)]))
    parameters = copied.openapi()["paths"]["/forge"]["get"]["parameters"]
    assert [parameter["name"] for parameter in parameters] == list(Filters.model_fields)


class Nested(BaseModel):
    filters: Filters | None = None


def test_a_model_with_fields_of_nested_types_is_refused() -> None:
    with pytest.raises(TypeError, match="nested types"):
        _ = QueryModel(Nested).parameters
