"""The tools: one per operation of the app's OpenAPI document, built-in and dynamic, rebuilt whenever the document
changes (the dynamic endpoints' registry, which every instance keeps current, gives it a new version).

A tool's name is its route's name (`list_products`), or the operation id where no route of its own serves it; its
description the operation's summary and description; its input schema one object whose properties are the path,
query and header parameters and, for an operation that takes one, `body`, with the components it refers to copied
under `$defs`. GET and HEAD operations are marked read-only.
"""

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.core.operational import OPERATIONAL_PATHS
from app.features.auth.dependencies import Grants
from app.mcp.access import Access, operation_access, route_access

__all__ = ["BODY", "Catalogue", "Operation", "Tools"]

BODY = "body"  # the argument that carries an operation's request body
_METHODS = ("get", "head", "post", "put", "patch", "delete")
_READ_ONLY = frozenset({"GET", "HEAD"})
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
_PARAMETER_PLACES = frozenset({"path", "query", "header"})
_COMPONENTS = "#/components/schemas/"
_DEFS = "#/$defs/"


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    method: str
    path: str
    access: Access
    parameters: Mapping[str, str]  # name -> where it goes: path, query or header
    tool: types.Tool


@dataclass(frozen=True, slots=True)
class Catalogue:
    operations: Mapping[str, Operation]

    def visible(self, grants: Grants) -> list[Operation]:
        """The operations these grants may call."""
        return [operation for operation in self.operations.values() if operation.access.allows(grants)]


def _rebased(value: Any) -> Any:
    if isinstance(value, list):
        return [_rebased(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: _DEFS + item.removeprefix(_COMPONENTS)
        if key == "$ref" and isinstance(item, str) and item.startswith(_COMPONENTS)
        else _rebased(item)
        for key, item in value.items()
    }


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str) and item.startswith(_COMPONENTS):
                yield item.removeprefix(_COMPONENTS).split("/", 1)[0]
            else:
                yield from _references(item)


def _definitions(schema: dict[str, Any], components: Mapping[str, Any]) -> dict[str, Any]:
    """The components `schema` refers to, transitively, rebased under `$defs`."""
    found: dict[str, Any] = {}
    pending = list(_references(schema))
    while pending:
        name = pending.pop()
        if name in found or name not in components:
            continue
        found[name] = _rebased(components[name])
        pending.extend(_references(components[name]))
    return found


def _input_schema(operation: Mapping[str, Any], components: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    places: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        if parameter.get("in") not in _PARAMETER_PLACES:
            continue
        name = parameter["name"]
        parameter_schema = dict(parameter.get("schema", {}))
        if "description" in parameter:
            parameter_schema.setdefault("description", parameter["description"])
        properties[name] = parameter_schema
        places[name] = parameter["in"]
        if parameter.get("required"):
            required.append(name)
    body = operation.get("requestBody", {})
    if (body_schema := body.get("content", {}).get("application/json", {}).get("schema")) is not None:
        properties[BODY] = dict(body_schema) | {"description": "The request's JSON body."}
        if body.get("required"):
            required.append(BODY)
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    if definitions := _definitions(schema, components):
        schema["$defs"] = definitions
    return _rebased(schema), places


def _description(method: str, path: str, operation: Mapping[str, Any]) -> str:
    lines = [f"{operation.get('summary') or operation.get('operationId', '')}.", f"{method} {path}"]
    if description := operation.get("description"):
        lines.append(description)
    return "\n\n".join(lines)


def _tool(name: str, method: str, path: str, operation: Mapping[str, Any], schema: dict[str, Any]) -> types.Tool:
    summary = operation.get("summary")
    annotations = types.ToolAnnotations(
        title=summary,
        read_only_hint=method in _READ_ONLY,
        destructive_hint=method == "DELETE",
        idempotent_hint=method in _IDEMPOTENT,
        open_world_hint=False,
    )
    return types.Tool(
        name=name,
        title=summary,
        description=_description(method, path, operation),
        input_schema=schema,
        annotations=annotations,
    )


def _operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            if (operation := item.get(method)) is not None:
                yield path, method.upper(), operation


def build_catalogue(
    document: Mapping[str, Any], routes: Iterable[APIRoute], *, expose_admin: bool, excluded_tags: Iterable[str]
) -> Catalogue:
    by_id = {route.unique_id: route for route in routes}
    excluded = frozenset(excluded_tags)
    components = document.get("components", {}).get("schemas", {})
    operations: dict[str, Operation] = {}
    for path, method, operation in _operations(document):
        if path in OPERATIONAL_PATHS or excluded.intersection(operation.get("tags", ())):
            continue
        route = by_id.get(operation.get("operationId", ""))
        access = route_access(route) if route is not None else operation_access(operation)
        if access.admin and not expose_admin:
            continue
        name = route.name if route is not None else operation["operationId"]
        if name in operations:  # two routes of one name: their operation ids tell them apart
            name = operation["operationId"]
        schema, places = _input_schema(operation, components)
        operations[name] = Operation(name, method, path, access, places, _tool(name, method, path, operation, schema))
    return Catalogue(operations)


class Tools:
    """An app's catalogue, rebuilt only when its OpenAPI document is a new one (which the dynamic endpoints'
    document is, each time the registry's version changes)."""

    def __init__(self, *, expose_admin: bool, excluded_tags: Iterable[str]) -> None:
        self._expose_admin = expose_admin
        self._excluded_tags = tuple(excluded_tags)
        self._built: tuple[dict[str, Any], Catalogue] | None = None  # the document it was built from, kept

    def catalogue(self, app: FastAPI) -> Catalogue:
        document = app.openapi()
        if self._built is None or self._built[0] is not document:
            routes = [route for route in app.routes if isinstance(route, APIRoute)]
            catalogue = build_catalogue(
                document, routes, expose_admin=self._expose_admin, excluded_tags=self._excluded_tags
            )
            self._built = (document, catalogue)
        return self._built[1]
