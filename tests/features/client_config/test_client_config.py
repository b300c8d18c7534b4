"""GET /api/v1/config: public settings for clients, the same for every caller, cached at the edge."""

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from app import TITLE, __version__
from app.config import Settings
from app.main import create_app
from app.shared.caching import entity_tag
from tests import helpers
from tests.support.app import running
from tests.support.settings import BASE_URL, make_settings

CONFIG = "/api/v1/config"


async def test_the_client_configuration_is_public_and_exact(client: httpx.AsyncClient) -> None:
    response = await client.get(CONFIG)

    assert response.status_code == 200
    assert response.json() == {
        "name": TITLE,
        "version": __version__,
        "environment": "test",
        "api_prefix": "/api/v1",
        "docs_url": "/docs",
        "auth": {"token_url": "/api/v1/auth/token", "access_token_ttl_seconds": 900},
        "pagination": {"default_size": 20, "max_size": 100},
        "rate_limit": {"enabled": True, "default": [{"requests": 100000, "window_seconds": 60}]},
        "features": {},
    }


async def test_it_carries_the_edge_caching_headers(client: httpx.AsyncClient) -> None:
    response = await client.get(CONFIG, headers={"accept-encoding": "identity"})

    assert response.headers["cache-control"] == "public, max-age=0, s-maxage=60, stale-while-revalidate=30"
    assert response.headers["cdn-cache-control"] == "public, max-age=60, stale-while-revalidate=30"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["etag"] == entity_tag(response.content, gzipped=False)


async def test_a_client_holding_the_current_tag_gets_a_304(client: httpx.AsyncClient) -> None:
    etag = (await client.get(CONFIG)).headers["etag"]

    response = await client.get(CONFIG, headers={"if-none-match": etag})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag


async def test_every_caller_gets_the_same_answer(client: httpx.AsyncClient, user: helpers.Headers) -> None:
    anonymous = await client.get(CONFIG)
    signed_in = await client.get(CONFIG, headers=user)

    assert signed_in.content == anonymous.content
    assert signed_in.headers["etag"] == anonymous.headers["etag"]
    assert signed_in.headers["cache-control"].startswith("public, ")


@pytest.mark.settings(
    client_feature_flags={"new_checkout": True, "beta_search": False},
    rate_limit_default="10/second;1000/hour",
    docs_enabled=False,
    access_token_ttl_seconds=300,
)
async def test_it_follows_the_settings(client: httpx.AsyncClient) -> None:
    body = (await client.get(CONFIG)).json()

    assert body["features"] == {"beta_search": False, "new_checkout": True}
    assert body["rate_limit"]["default"] == [
        {"requests": 10, "window_seconds": 1},
        {"requests": 1000, "window_seconds": 3600},
    ]
    assert body["docs_url"] is None
    assert body["auth"]["access_token_ttl_seconds"] == 300


@pytest.mark.settings(rate_limit_enabled=False)
async def test_no_limits_are_listed_when_rate_limiting_is_off(client: httpx.AsyncClient) -> None:
    assert (await client.get(CONFIG)).json()["rate_limit"] == {"enabled": False, "default": []}


async def test_a_deploy_with_changed_settings_answers_old_tags_in_full(
    client: httpx.AsyncClient, database_url: str, engine: AsyncEngine
) -> None:
    old = (await client.get(CONFIG)).headers["etag"]
    redeployed = create_app(make_settings(database_url, client_feature_flags={"new_checkout": True}))

    async with (
        running(redeployed) as started,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as other,
    ):
        response = await other.get(CONFIG, headers={"if-none-match": old})

    assert response.status_code == 200
    assert response.json()["features"] == {"new_checkout": True}
    assert response.headers["etag"] != old


async def test_no_secret_appears(client: httpx.AsyncClient, settings: Settings) -> None:
    text = (await client.get(CONFIG)).text

    for secret in (settings.secret_key, settings.api_key_pepper, settings.encryption_keys, settings.blind_index_key):
        assert secret is not None
        assert secret.get_secret_value() not in text
    assert "sqlite" not in text


@pytest.mark.parametrize("name", ["New-Checkout", "", "1st", "x" * 65, "with space"])
def test_feature_flag_names_are_checked(name: str) -> None:
    with pytest.raises(ValidationError, match="FORGE_CLIENT_FEATURE_FLAGS"):
        make_settings("sqlite+aiosqlite:///unused.db", client_feature_flags={name: True})


def test_feature_flags_are_read_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORGE_CLIENT_FEATURE_FLAGS", '{"dark_mode": true}')
    assert Settings(_env_file=None).client_feature_flags == {"dark_mode": True}
