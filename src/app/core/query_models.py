"""`QueryModel`: a Pydantic model read from the query string in one validation, documented as FastAPI documents it.

FastAPI reads `Annotated[Model, Query()]` field by field on every request, and asks of each field's annotation
whether it is a sequence and which aliases it has before it validates the model: on a product page, with the
page's four fields and the filters' three, that was 7 % of the request's instructions (5.02 M → 4.67 M in
process, counted with callgrind: docs/performance.md). Those answers do not change between requests, so
`QueryModel` works them out once and then validates the model from the query string in one call.

The 422 is FastAPI's: the same `RequestValidationError`, each error located at `("query", field, ...)`. What
FastAPI derived from the parameter for OpenAPI, it still derives: `parameters` is the list FastAPI itself writes
for `Annotated[Model, Query()]` (made once, on a route of its own), which `ForgeRoute` adds to every operation that
depends on the `QueryModel`. Only the model's own fields are read; the rest of the query string is other
parameters' business. Each `QueryModel` reports its own errors: when two of a route's query models are wrong at
once, the 422 lists the first one's.
"""

import inspect
import typing
from collections.abc import Mapping
from functools import cached_property
from types import UnionType
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from starlette.datastructures import ImmutableMultiDict

__all__ = ["QueryModel"]

_SEQUENCES = (list, set, frozenset, tuple)
# What FastAPI's own document of a probe route holds besides the parameters: the 422's schemas.
_VALIDATION_SCHEMAS = {"HTTPValidationError", "ValidationError"}


def _takes_many(field: FieldInfo) -> bool:
    """Whether the field is a list (or set, tuple) of values, optional or not: read from every `key=` given."""
    annotation = field.annotation
    alternatives = typing.get_args(annotation) if typing.get_origin(annotation) in {typing.Union, UnionType} else ()
    return any(typing.get_origin(kind) in _SEQUENCES or kind in _SEQUENCES for kind in (annotation, *alternatives))


def _query_key(name: str, field: FieldInfo) -> str:
    if field.validation_alias is not None and not isinstance(field.validation_alias, str):
        msg = f"QueryModel reads fields by one name; {name} has {field.validation_alias!r}"
        raise TypeError(msg)
    return field.validation_alias or field.alias or name


class QueryModel[M: BaseModel]:
    """A dependency that answers `model` read from the request's query string (see the module's docstring)."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        self._fields = tuple(
            (_query_key(name, field), _takes_many(field)) for name, field in model.model_fields.items()
        )

    def read(self, query: Mapping[str, str]) -> M:
        """The model from `query` (a request's `QueryParams`, or any mapping); RequestValidationError (422) when
        a value is wrong, located as FastAPI locates it."""
        values: dict[str, Any] = {}
        for key, many in self._fields:
            if many and isinstance(query, ImmutableMultiDict):
                if given := query.getlist(key):
                    values[key] = given
            elif key in query:
                values[key] = query[key]
        try:
            return self.model.model_validate(values)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            raise RequestValidationError([{**error, "loc": ("query", *error["loc"])} for error in errors]) from None

    async def __call__(self, request: Request) -> M:
        return self.read(request.query_params)

    @cached_property
    def parameters(self) -> list[dict[str, Any]]:
        """The OpenAPI parameters of the model's fields, as FastAPI writes them for `Annotated[model, Query()]`."""

        async def probe() -> None:  # pragma: no cover - documented, never called
            return None

        annotation = Annotated[self.model, Query()]  # type: ignore[name-defined]
        parameter = inspect.Parameter("query", inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
        probe.__signature__ = inspect.Signature([parameter], return_annotation=None)  # type: ignore[attr-defined]
        document = get_openapi(title="probe", version="0", routes=[APIRoute("/", probe, methods=["GET"])])
        if set(document.get("components", {}).get("schemas", {})) - _VALIDATION_SCHEMAS:
            msg = f"{self.model.__name__} has fields of nested types, documented as components: not a QueryModel"
            raise TypeError(msg)
        parameters: list[dict[str, Any]] = document["paths"]["/"]["get"]["parameters"]
        return parameters
