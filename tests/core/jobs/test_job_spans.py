"""A job's span continues the trace of the request that enqueued it, exported to a real in-process OTLP receiver."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import API_PREFIX, Settings
from app.core.context import AppContext
from app.core.database import Database
from app.core.jobs import JobRegistry
from app.main import create_app
from tests.support.app import running
from tests.support.jobs import Recorder, enqueue_router, recording_type
from tests.support.otlp import OtlpReceiver, attributes
from tests.support.polling import eventually
from tests.support.settings import BASE_URL

pytestmark = pytest.mark.settings(otel_exporter="otlp", jobs_run_in_server=True, jobs_poll_seconds=0.02)

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


@dataclass(frozen=True, slots=True)
class Traced:
    client: httpx.AsyncClient
    context: AppContext
    recorder: Recorder


@pytest.fixture
async def traced(settings: Settings, engine: AsyncEngine, otlp: OtlpReceiver) -> AsyncIterator[Traced]:
    recorder = Recorder()
    note = recording_type(recorder, name="test.traced")
    app = create_app(settings, jobs=JobRegistry([note]))
    app.include_router(enqueue_router(note), prefix=API_PREFIX)
    async with (
        running(app) as started,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=started.asgi), base_url=BASE_URL) as client,
    ):
        yield Traced(client, started.context, recorder)


async def _job_span(traced: Traced, otlp: OtlpReceiver, job_id: int) -> Any:
    """The span of job `job_id`'s run, once exported (it ends once the outcome is recorded, after the handler)."""
    await eventually(lambda: traced.recorder.runs[job_id] == 1)
    telemetry = traced.context.telemetry
    assert telemetry is not None

    def exported() -> bool:
        assert telemetry.tracer_provider.force_flush()
        return bool(otlp.by_name("job test.traced"))

    await eventually(exported)
    [span] = otlp.by_name("job test.traced")
    return span


async def test_a_job_s_span_continues_the_enqueuing_request_s_trace(
    traced: Traced, otlp: OtlpReceiver, database: Database
) -> None:
    response = await traced.client.post(
        f"{API_PREFIX}/test-jobs", params={"text": "traced"}, headers={"traceparent": TRACEPARENT}
    )
    assert response.status_code == 201
    job_id = response.json()["id"]

    span = await _job_span(traced, otlp, job_id)
    assert span.trace_id.hex() == TRACE_ID
    assert attributes(span) == {"job.id": job_id, "job.type": "test.traced", "job.attempt": 1}
    in_request = {s.span_id for s in otlp.spans if s.trace_id.hex() == TRACE_ID and s is not span}
    assert span.parent_span_id in in_request  # a span of the request that enqueued it


async def test_a_job_joins_the_trace_its_request_started(
    traced: Traced, otlp: OtlpReceiver, database: Database
) -> None:
    response = await traced.client.post(f"{API_PREFIX}/test-jobs", params={"text": "no traceparent"})

    span = await _job_span(traced, otlp, response.json()["id"])
    request_spans = {s.span_id for s in otlp.spans if s.trace_id == span.trace_id and s is not span}
    assert span.parent_span_id in request_spans
    assert any(s.name.startswith("POST") for s in otlp.spans if s.span_id in request_spans)
