"""`forge worker`'s own endpoints (app.core.jobs.process), served in-process: readiness follows the worker, the
metrics are the process's own, and every refusal is a problem."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from app.config import API_PREFIX
from app.core.database import Database
from app.core.jobs import JobRegistry, Worker
from app.core.jobs.process import EndpointBindError, endpoint_app, serving
from app.core.metrics import Metrics
from tests.support.jobs import Recorder, recording_type
from tests.support.polling import eventually
from tests.support.processes import free_port
from tests.support.prometheus import sample
from tests.support.settings import BASE_URL

TOKEN = "a-metrics-token-for-the-worker-endpoint"


def _worker(database: Database, metrics: Metrics) -> Worker:
    registry = JobRegistry([recording_type(Recorder())])
    return Worker(database=database, registry=registry, concurrency=1, poll_seconds=0.02, metrics=metrics.jobs)


@asynccontextmanager
async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        yield client


async def test_readyz_answers_503_until_the_worker_reaches_the_queue_and_after_it_stops(database: Database) -> None:
    metrics = Metrics(api_prefix=API_PREFIX)
    worker = _worker(database, metrics)
    app = endpoint_app(worker, metrics=metrics, readings=dict, token=None)
    async with _client(app) as client:
        before = await client.get("/readyz")
        assert before.status_code == 503
        assert before.headers["content-type"] == "application/problem+json"
        assert before.json()["checks"] == {"queue": "unavailable"}
        assert before.headers["retry-after"] == "5"
        assert (await client.get("/healthz")).json() == {"status": "ok"}

        worker.start()
        try:
            await eventually(lambda: worker.ready)
            assert (await client.get("/readyz")).json() == {"status": "ready", "worker": worker.id}
        finally:
            await worker.stop()
        assert (await client.get("/readyz")).status_code == 503


async def test_metrics_are_the_process_s_own_and_ask_for_the_token_when_one_is_set(database: Database) -> None:
    metrics = Metrics(api_prefix=API_PREFIX)
    metrics.jobs.enqueued({"test.note": 2})
    app = endpoint_app(_worker(database, metrics), metrics=metrics, readings=dict, token=SecretStr(TOKEN))
    async with _client(app) as client:
        refused = await client.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        scraped = await client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert scraped.status_code == 200
    assert sample(scraped.text, "jobs_enqueued_total", type="test.note") == 2
    assert "http_requests_total" not in scraped.text  # a worker serves no requests: no empty HTTP families


async def test_metrics_switched_off_are_a_404_problem(database: Database) -> None:
    metrics = Metrics(api_prefix=API_PREFIX)
    async with _client(endpoint_app(_worker(database, metrics), metrics=None, readings=dict, token=None)) as client:
        answer = await client.get("/metrics")
    assert answer.status_code == 404
    assert answer.json()["detail"] == "Metrics are off (FORGE_METRICS_ENABLED=false)."


async def test_the_endpoint_listens_on_its_port_and_refuses_one_in_use(database: Database) -> None:
    metrics = Metrics(api_prefix=API_PREFIX)
    app = endpoint_app(_worker(database, metrics), metrics=metrics, readings=dict, token=None)
    port = free_port()
    async with httpx.AsyncClient() as client:
        async with serving(app, host="127.0.0.1", port=port):
            assert (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
            with pytest.raises(EndpointBindError, match=f"cannot listen on 127.0.0.1:{port}"):
                async with serving(app, host="127.0.0.1", port=port):
                    pass
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/healthz")
