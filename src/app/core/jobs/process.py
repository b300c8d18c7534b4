"""`forge worker`: a process that runs the app's jobs until SIGTERM or SIGINT (docs/jobs.md).

Given a port (`--metrics-port`, FORGE_JOBS_METRICS_PORT), it also answers HTTP there, on FORGE_HOST, as Sidekiq's
and Celery's exporters do for their workers: every worker process is a scrape target and a probe of its own.
- `GET /metrics`: this process's metrics (its jobs, its database pool) in Prometheus text; 404 when
  FORGE_METRICS_ENABLED=false; with FORGE_METRICS_TOKEN, scrapers send it as a bearer token.
- `GET /healthz`: the process's event loop answers.
- `GET /readyz`: 200 while its worker runs and its last round reached the queue; 503 (a problem) before that,
  while the database fails, and once SIGTERM has stopped it claiming.

Not exported by `app.core.jobs`: it imports uvicorn, which the app itself never needs (AWS Lambda starts faster
without it).
"""

import asyncio
import signal
import socket
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
from pydantic import SecretStr

from app.config import API_PREFIX, Settings
from app.core import migrations
from app.core.database import Database
from app.core.exceptions import NotFoundError, ServiceUnavailableError
from app.core.jobs import JobRegistry, Worker, configured_worker, counting_enqueued
from app.core.metrics import CONTENT_TYPE, Metrics, authorise_scrape, job_metrics, state_readings
from app.core.problems import install_exception_handlers
from app.core.tracing import Tracing, configure_telemetry, meter_of, observe_state

if TYPE_CHECKING:  # both enqueue through app.core.jobs: types only, no import cycle
    from app.core.events import Events
    from app.core.mail import Mailer

__all__ = ["EndpointBindError", "endpoint_app", "run_worker"]

_log = structlog.get_logger("app.jobs")
_READY_RETRY_SECONDS = 5


class EndpointBindError(RuntimeError):
    """The worker's port cannot be listened on (in use, or not allowed)."""


async def run_worker(
    settings: Settings, registry: JobRegistry, *, events: "Events", mailer: "Mailer", metrics_port: int | None
) -> None:
    """Run `registry`'s jobs until SIGTERM or SIGINT; then running jobs finish within FORGE_JOBS_SHUTDOWN_SECONDS
    or are released. With `metrics_port`, serve the worker's endpoints there meanwhile. `events` and `mailer` are
    the app's, for its handlers (the caller has configured field encryption, which the mailer's keys come from)."""
    telemetry = configure_telemetry(settings)
    meter = meter_of(telemetry)
    metrics = Metrics(api_prefix=API_PREFIX, meter=meter) if settings.metrics_enabled else None
    jobs_metrics = job_metrics(metrics, meter)
    enqueued = jobs_metrics.enqueued if jobs_metrics is not None else None
    database = Database(settings, session_info=counting_enqueued(enqueued))  # its handlers' jobs and its ticks
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)

    def readings() -> dict[str, Any]:
        return state_readings(pool=database.engine.pool, limiter=None)

    observe_state(telemetry, readings)
    try:
        await migrations.ensure_schema_current(database.engine)
        worker = configured_worker(
            settings,
            database,
            registry,
            tracing=Tracing.of(telemetry),
            metrics=jobs_metrics,
            events=events,
            mailer=mailer,
        )
        endpoint: AbstractAsyncContextManager[None] = nullcontext()
        if metrics_port is not None:
            app = endpoint_app(worker, metrics=metrics, readings=readings, token=settings.metrics_token)
            endpoint = serving(app, host=settings.host, port=metrics_port)
        async with endpoint:  # listening before the worker starts: a port in use stops the process at once
            worker.start()
            await stopping.wait()
            await worker.stop()  # /readyz answers 503 meanwhile
    finally:
        await database.dispose()
        if telemetry is not None:
            telemetry.shutdown()


def endpoint_app(
    worker: Worker,
    *,
    metrics: Metrics | None,
    readings: Callable[[], Mapping[str, Any]],
    token: SecretStr | None,
) -> FastAPI:
    """The worker's `/metrics`, `/healthz` and `/readyz`; every error a problem, as the app's own."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    install_exception_handlers(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        if not worker.ready:
            msg = "Not ready: the job worker is not running or does not reach the queue."
            raise ServiceUnavailableError(
                msg, retry_after_seconds=_READY_RETRY_SECONDS, checks={"queue": "unavailable"}
            )
        return {"status": "ready", "worker": worker.id}

    @app.get("/metrics")
    async def scrape(request: Request) -> Response:
        if metrics is None:
            msg = "Metrics are off (FORGE_METRICS_ENABLED=false)."
            raise NotFoundError(msg)
        authorise_scrape(request.headers.get("authorization"), token)
        return Response(metrics.render(readings()), media_type=CONTENT_TYPE)

    return app


class _Server(uvicorn.Server):
    """uvicorn serving inside the worker's event loop: the worker's signal handlers stop the process, not uvicorn's."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def serving(app: FastAPI, *, host: str, port: int) -> AsyncIterator[None]:
    """`app` served on `host`:`port` while the block runs. `EndpointBindError` when the port cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        listener = socket.create_server((host, port), family=family)
    except OSError as exc:
        msg = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        raise EndpointBindError(msg) from None
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, server_header=False)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]), name="jobs-worker-endpoint")
    _log.info("job_worker_endpoint", address=f"{host}:{port}", paths=["/metrics", "/healthz", "/readyz"])
    try:
        yield
    finally:
        server.should_exit = True
        await task
