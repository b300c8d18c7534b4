"""Spec builders for dynamic endpoints: request bodies for the admin API, and compiled specs for the registry.

`static()` and `collection()` are valid specs as an administrator posts them (override any field);
`create()` posts one and returns the stored spec; `spec()` and `snapshot()` build the registry's own objects,
without HTTP.
"""

from typing import Any

import httpx

from app.features.dynamic_endpoints.registry import Snapshot, SpecData, compile_spec
from tests import helpers

__all__ = ["ADMIN_ENDPOINTS", "BOOK_SCHEMA", "JSON", "collection", "create", "snapshot", "spec", "static"]

ADMIN_ENDPOINTS = "/api/v1/admin/endpoints"

type JSON = dict[str, Any]

BOOK_SCHEMA: JSON = {
    "type": "object",
    "properties": {"title": {"type": "string", "minLength": 1}, "pages": {"type": "integer", "minimum": 1}},
    "required": ["title"],
    "additionalProperties": False,
}


def collection(name: str = "books", path: str = "/api/v1/x/books", **overrides: Any) -> JSON:
    return {
        "name": name,
        "path": path,
        "kind": "collection",
        "auth": "public",
        "request_schema": BOOK_SCHEMA,
    } | overrides


def static(name: str = "status", path: str = "/api/v1/x/status", **overrides: Any) -> JSON:
    return {
        "name": name,
        "path": path,
        "kind": "static",
        "method": "GET",
        "auth": "public",
        "response_schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]},
        "example": {"ok": True},
    } | overrides


async def create(client: httpx.AsyncClient, admin: helpers.Headers, spec: JSON) -> JSON:
    response = await client.post(ADMIN_ENDPOINTS, json=spec, headers=admin)
    assert response.status_code == 201, response.text
    body: JSON = response.json()
    return body


def spec(spec_id: int, path: str, kind: str = "static", method: str | None = "GET") -> SpecData:
    schema = {"type": "object"} if kind == "collection" else None
    return SpecData(
        id=spec_id,
        name=f"s{spec_id}",
        path=path,
        kind=kind,
        method=method if kind == "static" else None,
        auth="public",
        summary="",
        request_schema=schema,
        response_schema=None,
        example={"n": spec_id} if kind == "static" else None,
        version=1,
    )


def snapshot(*specs: SpecData) -> Snapshot:
    return Snapshot.build(1, [compile_spec(s) for s in specs])
