"""A dynamic endpoint takes a body in the media types a built-in route takes, and refuses others with the same 415."""

from typing import Any

import httpx
import pytest

from tests import helpers
from tests.support.dynamic_endpoints import ADMIN_ENDPOINTS, collection, create

BOOKS = "/api/v1/x/books"


def _without_request(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in ("instance", "request_id")}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
async def test_a_body_not_in_json_is_the_same_415_on_built_in_and_dynamic_routes(
    client: httpx.AsyncClient, admin: helpers.Headers, content_type: str
) -> None:
    await create(client, admin, collection())
    request: dict[str, Any] = {"content": b'{"title": "Dune"}', "headers": {**admin, "Content-Type": content_type}}

    built_in = await client.post(ADMIN_ENDPOINTS, **request)
    dynamic = await client.post(BOOKS, **request)

    refused = helpers.problem(dynamic, 415, "unsupported-media-type")
    assert refused["detail"] == f"This operation takes application/json, not {content_type}."
    assert _without_request(refused) == _without_request(helpers.problem(built_in, 415, "unsupported-media-type"))


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/merge-patch+json"])
async def test_json_media_types_are_taken_alike(
    client: httpx.AsyncClient, admin: helpers.Headers, content_type: str
) -> None:
    await create(client, admin, collection())
    request: dict[str, Any] = {"content": b'{"title": "Dune"}', "headers": {**admin, "Content-Type": content_type}}

    built_in = await client.post(ADMIN_ENDPOINTS, **request)
    dynamic = await client.post(BOOKS, **request)

    assert built_in.status_code == 422, built_in.text  # taken, and found not to be an endpoint spec
    assert dynamic.status_code == 201, dynamic.text
