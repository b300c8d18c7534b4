"""A dynamic endpoint takes a body in the media types a built-in route takes, and refuses others with the same 415."""

import httpx
import pytest

from tests import helpers
from tests.support.dynamic_endpoints import ADMIN_ENDPOINTS, collection, create
from tests.support.problems import without_request

BOOKS = "/api/v1/x/books"


async def _post_to_both(
    client: httpx.AsyncClient, admin: helpers.Headers, content_type: str
) -> tuple[httpx.Response, httpx.Response]:
    """The same body, in `content_type`, posted to a built-in route and to a dynamic collection."""
    await create(client, admin, collection())
    headers = {**admin, "Content-Type": content_type}
    body = b'{"title": "Dune"}'
    return (
        await client.post(ADMIN_ENDPOINTS, content=body, headers=headers),
        await client.post(BOOKS, content=body, headers=headers),
    )


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
async def test_a_body_not_in_json_is_the_same_415_on_built_in_and_dynamic_routes(
    client: httpx.AsyncClient, admin: helpers.Headers, content_type: str
) -> None:
    built_in, dynamic = await _post_to_both(client, admin, content_type)

    refused = helpers.problem(dynamic, 415, "unsupported-media-type")
    assert refused["detail"] == f"This operation takes application/json, not {content_type}."
    assert without_request(refused) == without_request(helpers.problem(built_in, 415, "unsupported-media-type"))


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/merge-patch+json"])
async def test_json_media_types_are_taken_alike(
    client: httpx.AsyncClient, admin: helpers.Headers, content_type: str
) -> None:
    built_in, dynamic = await _post_to_both(client, admin, content_type)

    assert built_in.status_code == 422, built_in.text  # taken, and found not to be an endpoint spec
    assert dynamic.status_code == 201, dynamic.text
