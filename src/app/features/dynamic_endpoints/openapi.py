"""The OpenAPI document with the dynamic endpoints in it: the built-in document plus one path item per template,
rebuilt only when the registry's version changes (`/docs` reads `/openapi.json`, so it follows).

A spec's schemas go under `components/schemas` (their local `$ref`s rebased there), so that `#/$defs/...` inside
a schema still resolves within the OpenAPI document. Their names are derived from the spec's name one to one, so
two specs never share (and overwrite) a component. Error responses are documented as for built-in routes
(shared/routing.py): problem+json `Problem`s, with the statuses the operation's auth, body and parameters imply.
"""

import copy
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from app.features.dynamic_endpoints.registry import CompiledSpec, Leaf, Snapshot
from app.features.dynamic_endpoints.state import EndpointRuntime
from app.shared.routing import ADMIN_EXTENSION, BODY_ERRORS, common_errors, error_responses

__all__ = ["component_name", "install_openapi", "merged_document"]

TAG = "dynamic"
_PARAM_SCHEMAS: dict[str, dict[str, str]] = {
    "int": {"type": "integer"},
    "str": {"type": "string"},
    "uuid": {"type": "string", "format": "uuid"},
}
_AUTH_ERRORS: dict[str, frozenset[int]] = {
    "public": frozenset(),
    "user": frozenset({401}),
    "admin": frozenset({401, 403}),
    "scope": frozenset({401, 403}),
}
_WITH_BODY = ("POST", "PUT", "PATCH")
_CAPITALISED = re.compile(r"_([a-z])")


def component_name(spec_name: str) -> str:
    """`Dynamic` and the spec's name in CamelCase: `_x` becomes `X`, any other `_` and every `-` stay. Names have
    no capitals, so this is one to one (`a_b` is `AB`, `a-b` is `A-b`, `a__b` is `A_B`)."""
    return "Dynamic" + _CAPITALISED.sub(lambda match: match.group(1).upper(), "_" + spec_name)


def _errors(spec: CompiledSpec, leaf: Leaf, method: str, *, body: bool) -> dict[str, dict[str, Any]]:
    statuses = common_errors(leaf.template) | _AUTH_ERRORS[spec.data.auth.partition(":")[0]]
    if body:
        statuses |= BODY_ERRORS
    if leaf.params:  # a value of the wrong type matches no template; an unknown id is no document
        statuses.add(404)
    if leaf.role == "collection" and method == "GET":
        statuses.add(422)  # page and size
    return error_responses(statuses)


def _rebase(value: Any, base: str) -> Any:
    """`value` with its local references (`#`, `#/...`) pointing under `base` instead of the document's root."""
    if isinstance(value, list):
        return [_rebase(item, base) for item in value]
    if not isinstance(value, dict):
        return value
    rebased: dict[str, Any] = {}
    for key, item in value.items():
        if key in ("$ref", "$dynamicRef") and isinstance(item, str) and (item == "#" or item.startswith("#/")):
            rebased[key] = base + item[1:]
        else:
            rebased[key] = _rebase(item, base)
    return rebased


def _component(components: dict[str, Any], name: str, schema: dict[str, Any] | None) -> dict[str, Any]:
    if schema is None:
        return {}
    components[name] = _rebase(schema, f"#/components/schemas/{name}")
    return {"$ref": f"#/components/schemas/{name}"}


def _security(auth: str) -> list[dict[str, list[str]]] | None:
    if auth == "public":
        return None
    if auth.startswith("scope:"):
        # The scope a key needs, as the role list OpenAPI allows for a scheme that is not OAuth2.
        return [{"OAuth2PasswordBearer": []}, {"APIKeyHeader": [auth.removeprefix("scope:")]}]
    return [{"OAuth2PasswordBearer": []}]


def _operation(spec: CompiledSpec, leaf: Leaf, method: str, schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    data = spec.data
    request, response = schemas["request"], schemas["response"]
    item = response or {"type": "object"}
    responses: dict[str, Any]
    if leaf.role == "static":
        body: dict[str, Any] = {"schema": response or {}, "example": data.example}
        responses = {"200": {"description": "The endpoint's example.", "content": {"application/json": body}}}
    elif leaf.role == "collection" and method == "GET":
        page = {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": item},
                **{key: {"type": "integer"} for key in ("total", "page", "size", "pages")},
            },
        }
        responses = {"200": {"description": "A page of documents.", "content": {"application/json": {"schema": page}}}}
    elif method == "DELETE":
        responses = {"204": {"description": "Deleted."}}
    else:
        code = "201" if leaf.role == "collection" else "200"
        responses = {code: {"description": "The document.", "content": {"application/json": {"schema": item}}}}
    takes_body = method in _WITH_BODY and bool(request)
    responses |= _errors(spec, leaf, method, body=takes_body)
    operation: dict[str, Any] = {
        "tags": [TAG],
        "summary": data.summary or data.name,
        "operationId": f"dynamic_{data.name}_{leaf.role}_{method.lower()}",
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": _PARAM_SCHEMAS[kind]} for name, kind in leaf.params
        ],
        "responses": responses,
    }
    if takes_body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": request}}}
    if leaf.role == "collection" and method == "GET":
        operation["parameters"] = [
            {"name": name, "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}}
            for name in ("page", "size")
        ]
    if (security := _security(data.auth)) is not None:
        operation["security"] = security
    if data.auth == "admin":
        operation[ADMIN_EXTENSION] = True
    return operation


def merged_document(base: dict[str, Any], snapshot: Snapshot) -> dict[str, Any]:
    document = copy.deepcopy(base)
    paths: dict[str, Any] = document.setdefault("paths", {})
    components: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    schemas: dict[int, dict[str, dict[str, Any]]] = {}
    for spec in snapshot.specs:
        name = component_name(spec.name)
        schemas[spec.id] = {
            "request": _component(components, f"{name}Request", spec.data.request_schema),
            "response": _component(components, f"{name}Response", spec.data.response_schema),
        }
    for leaf in snapshot.leaves:
        item = paths.setdefault(leaf.template, {})
        for method in sorted(leaf.methods):
            item[method.lower()] = _operation(leaf.spec, leaf, method, schemas[leaf.spec.id])
    return document


def install_openapi(app: FastAPI, runtime: EndpointRuntime) -> None:
    """Make `app.openapi()` include the registry's endpoints, cached per (built-in document, registry version)."""
    built_in: Callable[[], dict[str, Any]] = app.openapi
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        base = built_in()
        snapshot = runtime.snapshot
        key = (id(base), snapshot.version, id(snapshot))
        if cache.get("key") != key:
            cache["document"] = merged_document(base, snapshot)
            cache["key"] = key
        document: dict[str, Any] = cache["document"]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
