"""Rate limiting through the HTTP API: 429s, headers, identities, login protection, backend failures."""

import socket
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.core.security import PasswordHasher
from app.main import create_app
from app.shared.pipeline import RequestPipeline
from app.shared.ratelimit import RateLimitGate
from tests import helpers
from tests.support.app import running
from tests.support.settings import BASE_URL, make_settings

LIMITS = {
    "rate_limit_default": "5/minute",
    "rate_limit_login": "100/minute",
    "rate_limit_login_account": "2/minute",
    "rate_limit_register": "3/minute",
}


@pytest.fixture
def settings(database_url: str, request: pytest.FixtureRequest) -> Settings:
    overrides: dict[str, Any] = dict(LIMITS)
    marker = request.node.get_closest_marker("settings")
    if marker is not None:
        overrides.update(marker.kwargs)
    return make_settings(database_url, **overrides)


PUBLIC = "/api/v1/config"  # a public read


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_the_limit_admits_exactly_n_then_answers_429_problem_json(client: httpx.AsyncClient) -> None:
    responses = [await client.get(PUBLIC) for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    refused = responses[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["status"] == 429
    assert body["type"] == "urn:forgeapi:problem:rate-limited"
    assert refused.headers["retry-after"] == "12"  # 5 per minute: one request frees up every 12 s
    assert body["request_id"] == refused.headers["x-request-id"]


async def test_every_limited_response_carries_the_ratelimit_headers(client: httpx.AsyncClient) -> None:
    first = await client.get(PUBLIC)
    assert first.headers["ratelimit-policy"] == '"default";q=5;w=60'
    assert first.headers["ratelimit"] == '"default";r=4;t=12'
    assert first.headers["x-ratelimit-limit"] == "5"
    assert first.headers["x-ratelimit-remaining"] == "4"
    assert first.headers["x-ratelimit-reset"] == "12"
    second = await client.get("/api/v1/no-such-route")  # errors are counted and labelled too
    assert second.status_code == 404
    assert second.headers["ratelimit"] == '"default";r=3;t=24'


async def test_probes_are_never_limited(client: httpx.AsyncClient) -> None:
    for _ in range(20):
        for path in ("/healthz", "/readyz"):
            response = await client.get(path)
            assert response.status_code == 200
            assert "ratelimit" not in response.headers


async def test_an_authenticated_user_has_its_own_budget(client: httpx.AsyncClient) -> None:
    headers = await helpers.user_headers(client)  # register + login: two requests from this address
    for _ in range(3):
        await client.get(PUBLIC)
    assert (await client.get(PUBLIC)).status_code == 429
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200


async def test_an_api_key_has_its_own_budget_once_verified(client: httpx.AsyncClient, counters_path: str) -> None:
    headers = await helpers.user_headers(client)  # two requests from this address
    created = await client.post("/api/v1/api-keys", json={"name": "k", "scopes": ["api:read"]}, headers=headers)
    key = {"X-API-Key": created.json()["key"]}  # that request counted against the user, not the address
    first = await client.get(f"{counters_path}/caller", headers=key)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-remaining"] == "2", "a key not yet verified counts against its address"
    for _ in range(2):
        await client.get(PUBLIC)
    assert (await client.get(PUBLIC)).status_code == 429
    keyed = await client.get(f"{counters_path}/caller", headers=key)
    assert keyed.status_code == 200
    assert keyed.headers["x-ratelimit-remaining"] == "4"


async def test_spoofed_forwarded_for_is_ignored_from_an_untrusted_peer(client: httpx.AsyncClient) -> None:
    statuses = [
        (await client.get(PUBLIC, headers={"x-forwarded-for": f"198.51.100.{i}"})).status_code for i in range(6)
    ]
    assert statuses == [200] * 5 + [429]


@pytest.mark.settings(trusted_proxies="127.0.0.1")
async def test_forwarded_for_is_believed_from_a_trusted_proxy(client: httpx.AsyncClient) -> None:
    for i in range(6):
        response = await client.get(PUBLIC, headers={"x-forwarded-for": f"198.51.100.{i}"})
        assert response.status_code == 200
        assert response.headers["x-ratelimit-remaining"] == "4"


async def test_register_is_stricter_than_the_default(client: httpx.AsyncClient) -> None:
    statuses = [
        (
            await client.post(
                "/api/v1/auth/register", json={"email": helpers.unique_email(), "password": helpers.PASSWORD}
            )
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [201, 201, 201, 429]


@pytest.mark.settings(trusted_proxies="127.0.0.1", rate_limit_default="100/minute")
async def test_login_is_limited_per_account_before_any_password_is_hashed(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await helpers.register(client)
    verified: list[str] = []
    original = PasswordHasher.verify

    async def counting_verify(self: PasswordHasher, password: str, hashed: str | None) -> tuple[bool, str | None]:
        verified.append(password)
        return await original(self, password, hashed)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    statuses = []
    for i in range(3):  # from three different addresses: the per-account limit still holds
        response = await client.post(
            "/api/v1/auth/token",
            data={"username": user["email"].upper(), "password": f"wrong password {i}"},
            headers={"x-forwarded-for": f"198.51.100.{i}"},
        )
        statuses.append(response.status_code)
    assert statuses == [401, 401, 429]
    assert len(verified) == 2, "the refused attempt must not reach Argon2"
    assert "login_account" in response.headers["ratelimit-policy"]


async def _serve(settings: Settings, path: str) -> httpx.Response:
    app = create_app(settings)
    async with (
        running(app) as started,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as http,
    ):
        return await http.get(path)


@pytest.mark.parametrize("fail_open", [True, False])
async def test_an_unreachable_redis_fails_open_or_closed_never_500(
    database_url: str, fail_open: bool, engine: object
) -> None:
    settings = make_settings(
        database_url,
        redis_url=f"redis://127.0.0.1:{_closed_port()}/0",
        redis_timeout_seconds=0.2,
        rate_limit_fail_open=fail_open,
    )
    response = await _serve(settings, PUBLIC)
    if fail_open:
        assert response.status_code == 200
        assert "ratelimit" not in response.headers
    else:
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
    ready = await _serve(settings, "/readyz")
    if fail_open:
        assert ready.status_code == 200
        assert ready.json() == {"status": "degraded", "checks": {"database": "ok", "redis": "unavailable"}}
    else:
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"] == "unavailable"


def test_a_malformed_limit_fails_at_start_up_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="FORGE_RATE_LIMIT_DEFAULT"):
        create_app(make_settings("sqlite+aiosqlite:///unused.db", rate_limit_default="lots/minute"))


def test_rate_limiting_can_be_switched_off() -> None:
    app = create_app(make_settings("sqlite+aiosqlite:///unused.db", rate_limit_enabled=False))
    pipeline = next(m for m in app.user_middleware if m.cls is RequestPipeline)  # type: ignore[comparison-overlap]
    units = pipeline.kwargs["units"]
    assert isinstance(units, list)
    assert units
    assert not [unit for unit in units if isinstance(unit, RateLimitGate)]


@pytest.mark.settings(trusted_proxies="127.0.0.1", rate_limit_default="100/minute", rate_limit_register="1/minute")
async def test_a_per_route_limit_keys_by_the_client_behind_a_trusted_proxy(client: httpx.AsyncClient) -> None:
    async def register(forwarded_for: str) -> int:
        body = {"email": helpers.unique_email(), "password": helpers.PASSWORD}
        headers = {"x-forwarded-for": forwarded_for}
        return (await client.post("/api/v1/auth/register", json=body, headers=headers)).status_code

    assert [await register("198.51.100.1"), await register("198.51.100.1")] == [201, 429]
    assert await register("198.51.100.2") == 201  # another client behind the same proxy has a budget of its own


async def test_each_start_of_the_app_counts_with_its_own_limiter(settings: Settings) -> None:
    app = create_app(settings)  # the gate is built here, with the app; the limiter only by each start
    limiters = []
    for _ in range(2):
        async with (
            running(app) as started,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as http,
        ):
            assert (await http.get(PUBLIC)).headers["x-ratelimit-remaining"] == "4"  # a full budget each time
            limiters.append(started.context.rate_limiter)
    assert limiters[0] is not limiters[1]
