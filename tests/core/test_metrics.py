"""GET /metrics: RED metrics under route templates, in-flight requests, pool use, rate-limit outcomes."""

import re

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.core.metrics import ROUTE_TEMPLATE_STATE, Metrics
from tests import helpers


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, or None when it is absent."""
    rendered = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, value = line.rpartition(" ")
        found_name, _, found_labels = metric.partition("{")
        found = ",".join(sorted(found_labels.rstrip("}").split(","))) if found_labels else ""
        if found_name == name and found == rendered:
            return float(value)
    return None


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
    metrics = Metrics(api_prefix="/api/v1", state=lambda: None)
    scope = {"method": "GET", "path": "/healthz", "state": {ROUTE_TEMPLATE_STATE: "/healthz"}}
    for seconds in (0.001, 0.003, 0.003, 20.0):  # on a bound, between two, and past the last one
        metrics.http.started()
        metrics.http.finished(scope, 200, seconds)
    text = metrics.render().decode()
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
