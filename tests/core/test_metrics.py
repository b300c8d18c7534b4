"""GET /metrics: RED metrics under route templates, in-flight requests, pool use, rate-limit outcomes."""

import random
import re
from http import HTTPStatus

import httpx
import pytest
from fastapi import FastAPI, Response
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.core.metrics import ROUTE_TEMPLATE_STATE, Metrics
from app.main import create_app
from tests import helpers
from tests.support.app import Running, running
from tests.support.otlp import attributes, otlp_receiver
from tests.support.prometheus import sample, series
from tests.support.settings import BASE_URL

# The documented label values (docs/observability.md), written out rather than imported: this is the contract.
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
REGISTERED_STATUSES = {str(status.value) for status in HTTPStatus} | {"499"}
STATUS_CLASSES = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"}
STATUS_ROUTE = "/test-only/status/{code}"


def made_up_method(rng: random.Random) -> str:
    return rng.choice(["X", "PROPFIND-", "QUERY", "get"]) + format(rng.getrandbits(32), "x")


def random_request(rng: random.Random, *, any_status: bool = True) -> tuple[str, str]:
    """A method that is mostly made up, a path that mostly matches nothing, or a route answering any status."""
    method = "GET" if rng.random() < 0.5 else made_up_method(rng)
    status = rng.randrange(100, 1000) if any_status else 204
    path = rng.choice([f"/test-only/status/{status}", f"/no/such/{rng.getrandbits(64):x}", "/healthz"])
    return method, path


def add_status_route(app: FastAPI) -> None:
    @app.get(STATUS_ROUTE)
    async def any_status(code: int) -> Response:
        return Response(status_code=code)


@pytest.mark.settings(rate_limit_enabled=False)
async def test_random_methods_paths_and_statuses_add_a_bounded_number_of_series(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    add_status_route(app)
    rng = random.Random(24)
    for _ in range(1000):
        method, path = random_request(rng)
        await client.request(method, path)
    text = (await client.get("/metrics")).text

    requests = series(text, "http_requests_total")
    assert {s["method"] for s in requests} <= {"GET", "OTHER"}
    assert {s["route"] for s in requests} <= {STATUS_ROUTE, "unmatched", "/healthz"}
    assert {s["status"] for s in requests} <= REGISTERED_STATUSES | STATUS_CLASSES
    # GET on the status route answers at most the 69 status labels; the 5 other (method, route) pairs one status
    # each. Unbounded, these 1,000 requests made about 1,000 series.
    assert len(requests) <= 75
    assert len(series(text, "http_request_duration_seconds_count")) <= 6
    assert len(text) < 64 * 1024


def test_unknown_methods_and_statuses_are_counted_under_bounded_labels() -> None:
    metrics = Metrics(api_prefix="/api/v1")
    answered = [("X123456", 200), ("get", 404), ("GET", 299), ("GET", 499), ("GET", 599), ("GET", 999), ("GET", 42)]
    for method, status in answered:
        metrics.http.started()
        metrics.http.finished({"method": method, "path": "/x", "state": {ROUTE_TEMPLATE_STATE: "/x"}}, status, 0.001)
    text = metrics.render({}).decode()
    assert sample(text, "http_requests_total", method="OTHER", route="/x", status="200") == 1
    assert sample(text, "http_requests_total", method="OTHER", route="/x", status="404") == 1
    assert sample(text, "http_requests_total", method="GET", route="/x", status="2xx") == 1
    assert sample(text, "http_requests_total", method="GET", route="/x", status="499") == 1
    assert sample(text, "http_requests_total", method="GET", route="/x", status="5xx") == 1
    assert sample(text, "http_requests_total", method="GET", route="/x", status="other") == 2  # 999 and 42
    assert sample(text, "http_request_errors_total", method="GET", route="/x") == 1  # the 599
    assert sample(text, "http_request_duration_seconds_count", method="OTHER", route="/x") == 2


@pytest.mark.settings(rate_limit_enabled=False, otel_exporter="otlp")
async def test_otlp_metrics_keep_bounded_attributes_too(
    settings: Settings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(6)
    with otlp_receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        app = create_app(settings)
        add_status_route(app)
        async with (
            running(app) as started,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as client,
        ):
            for _ in range(300):
                # Statuses are the handlers' own here: FastAPI's instrumentation records them as answered.
                method, path = random_request(rng, any_status=False)
                await client.request(method, path)
            assert started.context.telemetry.meter_provider.force_flush()  # type: ignore[union-attr]
    points = [
        attributes(point)
        for metric in receiver.metric("http.server.request.duration")
        for point in metric.histogram.data_points
    ]
    assert points
    # The HTTP semantic conventions' name for any other method is `_OTHER`; FastAPI's instrumentation applies it.
    assert {p["http.request.method"] for p in points} <= {"GET", "_OTHER"}
    assert {p.get("http.route") for p in points} <= {STATUS_ROUTE, "/healthz", None}
    assert len(points) <= 2 * 3 * 4  # methods x routes x the statuses they answer (204, 200, 404, 405)


async def test_requests_are_counted_under_their_route_template(client: httpx.AsyncClient, counters_path: str) -> None:
    for counter_id in (101, 202, 303):
        await client.get(f"{counters_path}/{counter_id}")
    await client.get(counters_path)
    await client.get("/no/such/path")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    template = f"{counters_path}/{{counter_id}}"
    assert sample(text, "http_requests_total", method="GET", route=template, status="404") == 3
    assert sample(text, "http_requests_total", method="GET", route=counters_path, status="200") == 1
    assert sample(text, "http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert sample(text, "http_request_duration_seconds_count", method="GET", route=template) == 3
    assert f"{counters_path}/101" not in text  # raw paths never become labels
    assert sample(text, "http_requests_in_flight") == 1  # the scrape itself


async def test_server_errors_are_counted(app: FastAPI, client: httpx.AsyncClient) -> None:
    @app.get("/test-only/explode")
    async def explode() -> None:
        raise RuntimeError

    await client.get("/test-only/explode")
    text = (await client.get("/metrics")).text
    assert sample(text, "http_request_errors_total", method="GET", route="/test-only/explode") == 1
    assert sample(text, "http_requests_total", method="GET", route="/test-only/explode", status="500") == 1


@pytest.mark.settings(rate_limit_register="1/minute")
async def test_rate_limit_rejections_are_counted_per_policy(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await client.post("/api/v1/auth/register", json={"email": helpers.unique_email(), "password": helpers.PASSWORD})
    text = (await client.get("/metrics")).text
    assert sample(text, "rate_limit_rejections_total", policy="register") == 2
    assert sample(text, "rate_limit_rejections_total", policy="default") == 0
    assert sample(text, "rate_limit_backend_failures_total") == 0


async def test_database_pool_use_is_reported(client: httpx.AsyncClient, settings: Settings) -> None:
    await client.get("/readyz")  # uses (and returns) a pooled connection
    text = (await client.get("/metrics")).text
    expected_size = 5 if settings.is_sqlite else settings.database_pool_size  # SQLite keeps SQLAlchemy's default
    assert sample(text, "db_pool_size") == expected_size
    assert sample(text, "db_pool_connections_in_use") == 0


@pytest.mark.settings(metrics_token="scrape-secret-token")
async def test_a_metrics_token_protects_the_endpoint(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers={"authorization": "Bearer wrong"})).status_code == 401
    allowed = await client.get("/metrics", headers={"authorization": "Bearer scrape-secret-token"})
    assert allowed.status_code == 200
    assert re.search(r"^http_requests_total", allowed.text, re.MULTILINE)


@pytest.mark.settings(metrics_enabled=False)
async def test_metrics_can_be_switched_off(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 404


def test_durations_land_in_cumulative_le_buckets() -> None:
    metrics = Metrics(api_prefix="/api/v1")
    scope = {"method": "GET", "path": "/healthz", "state": {ROUTE_TEMPLATE_STATE: "/healthz"}}
    for seconds in (0.001, 0.003, 0.003, 20.0):  # on a bound, between two, and past the last one
        metrics.http.started()
        metrics.http.finished(scope, 200, seconds)
    text = metrics.render({}).decode()
    labels = {"method": "GET", "route": "/healthz"}
    assert sample(text, "http_request_duration_seconds_bucket", **labels, le="0.001") == 1
    assert sample(text, "http_request_duration_seconds_bucket", **labels, le="0.0025") == 1
    assert sample(text, "http_request_duration_seconds_bucket", **labels, le="0.005") == 3
    assert sample(text, "http_request_duration_seconds_bucket", **labels, le="10.0") == 3
    assert sample(text, "http_request_duration_seconds_bucket", **labels, le="+Inf") == 4
    assert sample(text, "http_request_duration_seconds_count", **labels) == 4
    assert sample(text, "http_request_duration_seconds_sum", **labels) == pytest.approx(20.007)
    assert sample(text, "http_requests_total", **labels, status="200") == 4
    assert sample(text, "http_requests_in_flight") == 0


async def test_docs_pages_schema_and_assets_count_under_their_own_routes(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/docs/static/swagger-ui.css"):
        assert (await client.get(path)).status_code == 200, path
    for n in range(20):  # files that are not there: still the mount's one label, never the path asked for
        assert (await client.get(f"/docs/static/no-such-{n}.js")).status_code == 404
    await client.get("/no/such/path")
    assert (await client.get("/redoc/")).status_code == 307  # to /redoc: no route answered this one
    text = (await client.get("/metrics")).text
    for route in ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"):
        assert sample(text, "http_requests_total", method="GET", route=route, status="200") == 1, route
    assert sample(text, "http_requests_total", method="GET", route="/docs/static/{path}", status="200") == 1
    assert sample(text, "http_requests_total", method="GET", route="/docs/static/{path}", status="404") == 20
    assert sample(text, "http_requests_total", method="GET", route="unmatched", status="404") == 1  # only that one
    assert sample(text, "http_requests_total", method="GET", route="unmatched", status="307") == 1
    assert "no-such" not in text
    assert "swagger-ui.css" not in text


@pytest.mark.settings(metrics_port=9464)
async def test_with_a_metrics_port_metrics_answer_on_that_port_only(started: Running) -> None:
    """The port is the listening socket's (ASGI `server`), which httpx's transport takes from the URL here."""
    transport = httpx.ASGITransport(app=started.asgi)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as app_port:
        assert (await app_port.get("/metrics")).status_code == 404
        assert (await app_port.get("/healthz")).status_code == 200
    async with httpx.AsyncClient(transport=transport, base_url=f"{BASE_URL}:9464") as metrics_port:
        scraped = await metrics_port.get("/metrics")
    assert scraped.status_code == 200
    assert sample(scraped.text, "http_requests_total", method="GET", route="/metrics", status="404") == 1
