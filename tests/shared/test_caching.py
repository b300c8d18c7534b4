"""Edge caching: the headers, the ETag, If-None-Match and 304s, gzip, and `private, no-store` for everything else.

The HTTP tests mount test-only `@edge_cached` routes on the real app (its middleware, gzip and settings), with a
body the test controls, so that sizes and changes are exact.
"""

import gzip
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse

from app.config import Settings
from app.shared.caching import EdgeCache, edge_cached, entity_tag, if_none_match
from app.shared.routing import ForgeRoute
from tests import helpers

CACHE_CONTROL = "public, max-age=0, s-maxage=60, stale-while-revalidate=30"
CDN_CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=30"
ROUTE = "/test-only/cached"
GZIP = {"accept-encoding": "gzip"}
IDENTITY = {"accept-encoding": "identity"}

type JSON = dict[str, Any]


@pytest.fixture
def payload(app: FastAPI) -> JSON:
    """The body of the test route: change it and the route answers with the new one."""
    body: JSON = {"data": "x"}

    @edge_cached()
    async def cached() -> JSON:
        if body.get("fail"):
            raise HTTPException(status_code=404)
        return body

    app.router.add_api_route(ROUTE, cached, response_model=JSON, route_class_override=ForgeRoute)
    return body


def large(payload: JSON, settings: Settings) -> None:
    payload["data"] = "x" * settings.gzip_minimum_size  # the JSON around it takes it past the minimum


async def raw_get(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (httpx's `.content` would undo the gzip)."""
    async with client.stream("GET", ROUTE, headers=headers) as response:
        return response, b"".join([chunk async for chunk in response.aiter_raw()])


def assert_cache_headers(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == CACHE_CONTROL
    assert response.headers["cdn-cache-control"] == CDN_CACHE_CONTROL
    assert response.headers["vary"] == "Accept-Encoding"  # exactly once, whoever added it


# --- If-None-Match, RFC 9110 §13.1.2 ----------------------------------------------------------------------------

TAG = '"0123abcd"'


@pytest.mark.parametrize(
    ("field_values", "matches"),
    [
        (['"0123abcd"'], True),
        (['W/"0123abcd"'], True),  # weak comparison: the W/ prefix is ignored
        (["*"], True),
        ([" * "], True),
        (['"other"'], False),
        (['"other", "0123abcd"'], True),
        (['"a", W/"b",W/"0123abcd" , "c"'], True),
        (['"a,b", "0123abcd"'], True),  # a comma inside a tag does not split it
        (['"a", "b"'], False),
        (['"other"', '"0123abcd"'], True),  # several field lines are one list
        (["0123abcd"], False),  # unquoted: malformed, matches nothing
        (['"0123abcd-gzip"'], False),
        (['"0123abc"'], False),
        ([""], False),
        ([], False),
    ],
)
def test_if_none_match(field_values: list[str], matches: bool) -> None:
    assert if_none_match(field_values, TAG) is matches


def test_if_none_match_compares_weakly_when_our_tag_is_weak_too() -> None:
    assert if_none_match(['"0123abcd"'], f"W/{TAG}")


def test_the_entity_tag_is_a_quoted_hash_of_the_body_with_a_suffix_for_gzip() -> None:
    tag = entity_tag(b'{"a":1}', gzipped=False)
    assert tag == entity_tag(b'{"a":1}', gzipped=False)
    assert tag != entity_tag(b'{"a":2}', gzipped=False)
    assert re.fullmatch(r'"[0-9a-f]{32}"', tag)
    assert entity_tag(b'{"a":1}', gzipped=True) == f'{tag[:-1]}-gzip"'


def test_a_policy_takes_the_settings_unless_it_overrides_them(settings: Settings) -> None:
    assert EdgeCache().header_values(settings) == (CACHE_CONTROL.encode(), CDN_CACHE_CONTROL.encode())
    own = EdgeCache(max_age=5, s_maxage=300, stale_while_revalidate=0)
    assert own.header_values(settings) == (
        b"public, max-age=5, s-maxage=300, stale-while-revalidate=0",
        b"public, max-age=300, stale-while-revalidate=0",
    )


def test_a_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="s_maxage"):
        EdgeCache(s_maxage=-1)


def test_edge_caching_is_refused_on_a_write() -> None:
    app = FastAPI()

    @edge_cached()
    async def write() -> JSON:
        return {}

    with pytest.raises(TypeError, match="for reads"):
        app.router.add_api_route("/w", write, methods=["POST"], response_model=JSON, route_class_override=ForgeRoute)


# --- Over HTTP --------------------------------------------------------------------------------------------------


@pytest.mark.settings(edge_cache_max_age=10, edge_cache_s_maxage=600, edge_cache_stale_while_revalidate=120)
async def test_the_durations_come_from_the_settings(client: httpx.AsyncClient, payload: JSON) -> None:
    response = await client.get(ROUTE)

    assert response.headers["cache-control"] == "public, max-age=10, s-maxage=600, stale-while-revalidate=120"
    assert response.headers["cdn-cache-control"] == "public, max-age=600, stale-while-revalidate=120"


async def test_a_cached_response_carries_the_headers_and_the_etag_of_its_body(
    client: httpx.AsyncClient, payload: JSON
) -> None:
    response, raw = await raw_get(client, IDENTITY)

    assert response.status_code == 200
    assert_cache_headers(response)
    assert response.headers["etag"] == entity_tag(raw, gzipped=False)
    assert raw == b'{"data":"x"}'
    assert response.headers["content-length"] == str(len(raw))


async def test_the_etag_is_stable_for_one_body_and_changes_with_it(client: httpx.AsyncClient, payload: JSON) -> None:
    first = (await client.get(ROUTE)).headers["etag"]
    assert (await client.get(ROUTE)).headers["etag"] == first

    payload["data"] = "y"
    changed = await client.get(ROUTE)

    assert changed.headers["etag"] != first
    assert changed.headers["etag"] == entity_tag(changed.content, gzipped=False)


@pytest.mark.parametrize("form", ["{tag}", "W/{tag}", "*", '"stale", {tag}, "older"'])
async def test_a_matching_if_none_match_gets_a_304_without_a_body(
    client: httpx.AsyncClient, payload: JSON, form: str
) -> None:
    etag = (await client.get(ROUTE)).headers["etag"]

    response, raw = await raw_get(client, {"if-none-match": form.format(tag=etag)})

    assert response.status_code == 304
    assert raw == b""
    assert response.headers["etag"] == etag
    assert_cache_headers(response)
    assert "content-length" not in response.headers
    assert "content-type" not in response.headers


@pytest.mark.parametrize("form", ['"stale"', '"stale", W/"older"', "{bare}"])
async def test_an_if_none_match_naming_another_tag_gets_the_full_200(
    client: httpx.AsyncClient, payload: JSON, form: str
) -> None:
    etag = (await client.get(ROUTE)).headers["etag"]

    response = await client.get(ROUTE, headers={"if-none-match": form.format(bare=etag.strip('"'))})

    assert response.status_code == 200
    assert response.json() == {"data": "x"}
    assert response.headers["etag"] == etag


async def test_a_tag_of_the_previous_body_gets_the_new_one(client: httpx.AsyncClient, payload: JSON) -> None:
    old = (await client.get(ROUTE)).headers["etag"]
    payload["data"] = "changed"

    response = await client.get(ROUTE, headers={"if-none-match": old})

    assert response.status_code == 200
    assert response.json() == {"data": "changed"}
    assert response.headers["etag"] != old


async def test_errors_of_a_cached_route_are_never_stored(client: httpx.AsyncClient, payload: JSON) -> None:
    payload["fail"] = True

    response = await client.get(ROUTE, headers={"if-none-match": "*"})

    assert response.status_code == 404
    assert response.headers["cache-control"] == "private, no-store"
    assert "etag" not in response.headers
    assert "cdn-cache-control" not in response.headers


async def test_a_streamed_response_of_a_cached_route_passes_through(app: FastAPI, client: httpx.AsyncClient) -> None:
    @edge_cached()
    async def streamed() -> StreamingResponse:
        return StreamingResponse(iter([b"a", b"b"]), media_type="text/plain")

    app.router.add_api_route("/test-only/streamed", streamed, route_class_override=ForgeRoute)

    response = await client.get("/test-only/streamed", headers={"if-none-match": "*"})

    assert response.status_code == 200
    assert response.content == b"ab"
    assert "etag" not in response.headers
    assert response.headers["cache-control"] == "private, no-store"


async def test_head_gets_the_gets_validators_and_revalidates(client: httpx.AsyncClient, payload: JSON) -> None:
    """HEAD is the GET without its body (docs/caching.md): a cache may check freshness with it."""
    got, head = await client.get(ROUTE), await client.head(ROUTE)
    assert (head.status_code, head.content) == (200, b"")
    for name in ("etag", "cache-control", "cdn-cache-control", "vary", "content-length"):
        assert head.headers.get(name) == got.headers.get(name), name
    assert (await client.head(ROUTE, headers={"if-none-match": got.headers["etag"]})).status_code == 304


# --- gzip -------------------------------------------------------------------------------------------------------


async def test_a_large_body_is_gzipped_with_its_own_strong_tag(
    client: httpx.AsyncClient, payload: JSON, settings: Settings
) -> None:
    large(payload, settings)
    identity, identity_raw = await raw_get(client, IDENTITY)

    zipped, zipped_raw = await raw_get(client, GZIP)

    assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(zipped_raw) == identity_raw
    assert zipped.headers["content-length"] == str(len(zipped_raw)) != identity.headers["content-length"]
    assert zipped.headers["etag"] == entity_tag(identity_raw, gzipped=True)
    assert identity.headers["etag"] == entity_tag(identity_raw, gzipped=False)
    assert "content-encoding" not in identity.headers
    assert_cache_headers(zipped)
    assert_cache_headers(identity)
    # A strong tag promises the same bytes every time: the gzip stream carries no timestamp.
    assert (await raw_get(client, GZIP))[1] == zipped_raw


async def test_a_small_body_is_not_gzipped_and_still_varies(
    client: httpx.AsyncClient, payload: JSON, settings: Settings
) -> None:
    response, raw = await raw_get(client, GZIP)

    assert len(raw) < settings.gzip_minimum_size
    assert "content-encoding" not in response.headers
    assert response.headers["etag"] == entity_tag(raw, gzipped=False)
    assert_cache_headers(response)


async def test_if_none_match_compares_with_the_tag_of_the_coding_the_client_gets(
    client: httpx.AsyncClient, payload: JSON, settings: Settings
) -> None:
    large(payload, settings)
    identity_tag = (await client.get(ROUTE, headers=IDENTITY)).headers["etag"]
    gzip_tag = (await client.get(ROUTE, headers=GZIP)).headers["etag"]

    not_modified, raw = await raw_get(client, {**GZIP, "if-none-match": gzip_tag})
    assert not_modified.status_code == 304
    assert raw == b""
    assert not_modified.headers["etag"] == gzip_tag
    assert "content-encoding" not in not_modified.headers
    assert_cache_headers(not_modified)

    # The identity bytes are another representation: a client holding them gets the gzipped one in full.
    other = await client.get(ROUTE, headers={**GZIP, "if-none-match": identity_tag})
    assert other.status_code == 200
    assert other.headers["etag"] == gzip_tag
    assert (await client.get(ROUTE, headers={**IDENTITY, "if-none-match": identity_tag})).status_code == 304


async def test_the_gzip_decision_is_the_same_as_for_every_other_response(
    app: FastAPI, client: httpx.AsyncClient, payload: JSON, settings: Settings
) -> None:
    """Both the caching layer and GZipMiddleware compress when `gzip` appears in Accept-Encoding."""
    large(payload, settings)

    @app.get("/test-only/uncached")
    async def uncached() -> JSON:
        return payload

    for accept in ("gzip, deflate, br", "br;q=1.0, gzip;q=0.8", "deflate"):
        cached = await client.get(ROUTE, headers={"accept-encoding": accept})
        plain = await client.get("/test-only/uncached", headers={"accept-encoding": accept})
        assert cached.headers.get("content-encoding") == plain.headers.get("content-encoding"), accept
        assert cached.json() == plain.json()


# --- Everything else: private, no-store -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/users/me", "/api/v1/api-keys", "/api/v1/users", "/healthz", "/readyz", "/docs"]
)
async def test_responses_without_a_policy_are_private_and_never_stored(
    client: httpx.AsyncClient, user: helpers.Headers, path: str
) -> None:
    response = await client.get(path, headers=user)

    assert response.status_code in {200, 403}, response.text  # /users is for admins: the 403 must not be stored
    assert response.headers["cache-control"] == "private, no-store"
    assert "etag" not in response.headers


async def test_token_responses_are_private_and_never_stored(client: httpx.AsyncClient) -> None:
    user = await helpers.register(client)
    response = await client.post("/api/v1/auth/token", data={"username": user["email"], "password": helpers.PASSWORD})

    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-store"


@pytest.mark.parametrize(("path", "status"), [("{counters}/999999", 404), ("{counters}/abc", 422), ("/nowhere", 404)])
async def test_problem_responses_are_never_stored(
    client: httpx.AsyncClient, counters_path: str, path: str, status: int
) -> None:
    # The tests' counters are read through edge-cached routes: a missing one and an invalid id are still problems.
    response = await client.get(path.format(counters=counters_path), headers={"if-none-match": "*"})

    assert response.status_code == status
    assert response.headers["content-type"] == helpers.PROBLEM_JSON
    assert response.headers["cache-control"] == "private, no-store"
    assert "etag" not in response.headers


@pytest.mark.settings(max_body_bytes=10)
async def test_problems_sent_by_the_middleware_are_never_stored(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/register", content=b"x" * 100)

    helpers.problem(response, 413, "payload-too-large")
    assert response.headers["cache-control"] == "private, no-store"
