"""Every request body derives from InputModel, and none of their text fields takes a NUL character."""

import typing
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import SecretStr, ValidationError

from app.core.input import InputModel

# The features of the template (products and orders only when a project keeps the example features).
_SHIPPED = ("users", "api_keys", "dynamic_endpoints", "products", "orders", "aggregate", "client_config", "health")


def _subclasses(model: type[InputModel]) -> list[type[InputModel]]:
    found = []
    for subclass in model.__subclasses__():
        found += [subclass, *_subclasses(subclass)]
    return found


def _holds_text(annotation: Any) -> bool:
    if annotation in (str, SecretStr):
        return True
    return any(_holds_text(argument) for argument in typing.get_args(annotation))


def _text_fields() -> list[tuple[type[InputModel], str]]:
    import app.main  # noqa: F401, PLC0415 - every feature's schemas, imported as the app imports them

    return [
        (model, name)
        for model in _subclasses(InputModel)
        for name, field in model.model_fields.items()
        if _holds_text(field.annotation)
    ]


def test_the_walk_finds_the_text_fields_it_must() -> None:
    names = {f"{model.__name__}.{name}" for model, name in _text_fields()}
    # Models of the features every project has (a project made without the example features has no products).
    assert {"UserCreate.password", "UserCreate.full_name", "ApiKeyCreate.name", "RefreshRequest.refresh_token"} <= names


@pytest.mark.parametrize(("model", "field"), _text_fields(), ids=lambda v: getattr(v, "__name__", v))
def test_no_text_field_of_any_input_model_takes_a_nul(model: type[InputModel], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate({field: "valid text\x00and more"})
    assert any(error["loc"][:1] == (field,) for error in refused.value.errors()), refused.value.errors()


def test_a_nul_is_refused_with_its_own_code_and_text_without_one_passes() -> None:
    class Note(InputModel):
        text: str
        secret: SecretStr | None = None

    assert Note.model_validate({"text": "plain"}).text == "plain"
    for body, field in (({"text": "a\x00"}, "text"), ({"text": "ok", "secret": "b\x00"}, "secret")):
        with pytest.raises(ValidationError) as refused:
            Note.model_validate(body)
        [error] = refused.value.errors()
        assert (error["loc"], error["type"]) == ((field,), "string_nul")


def test_every_json_request_body_of_the_app_is_an_input_model(app: FastAPI) -> None:
    """Of the features this template ships and `forge feature new` writes (its schemas derive InputModel); a
    project's feature scaffolded before InputModel existed keeps its own schemas until they are changed."""
    bodies = {
        route.path: route.body_field.field_info.annotation
        for route in app.routes
        if isinstance(route, APIRoute)
        and route.body_field is not None
        and route.endpoint.__module__.split(".")[2:3] in ([name] for name in _SHIPPED)
    }
    assert bodies
    not_input = {path: body for path, body in bodies.items() if not _is_input_model(body)}
    assert not_input == {}


def _is_input_model(annotation: Any) -> bool:
    if isinstance(annotation, type):
        return issubclass(annotation, InputModel) or annotation.__name__.startswith("Body_")  # a form's own model
    return all(_is_input_model(argument) for argument in typing.get_args(annotation) if argument is not type(None))
