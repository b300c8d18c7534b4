import httpx
from fastapi import FastAPI

from app.core.database import Database, get_database
from tests.support.settings import make_settings

UNREACHABLE_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"


async def test_healthz_answers_without_touching_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["content-type"] == "application/json"


async def test_healthz_is_documented_with_its_model(client: httpx.AsyncClient) -> None:
    """The probe answers prebuilt bytes (no model to validate and serialise per request); its document still
    names the model those bytes are."""
    document = (await client.get("/openapi.json")).json()
    answer = document["paths"]["/healthz"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/Liveness"}


async def test_readyz_reports_the_database_check(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_readyz_is_503_naming_the_failing_check(app: FastAPI, client: httpx.AsyncClient) -> None:
    unreachable = Database(make_settings(UNREACHABLE_POSTGRES))
    app.dependency_overrides[get_database] = lambda: unreachable
    try:
        response = await client.get("/readyz")
    finally:
        await unreachable.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["checks"] == {"database": "unavailable"}
    assert "database" in body["detail"]
