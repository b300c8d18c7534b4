"""SIGTERM under load: in-flight requests finish, new connections are refused, spans are flushed, pools closed.

A real `forge serve` process (SQLite) takes a burst of concurrent writes (registrations: every project has them)
plus one whose client sends its body slowly, so that a request is certainly still in flight when SIGTERM arrives.
Burst requests whose connection the server had not yet accepted may be refused; every write is either answered 201
in full and stored, or never begun and not stored. Spans are exported only at shutdown (the batch processor's
schedule is pushed past the test), so their arrival proves the flush.
"""

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.core.database import create_engine
from app.features.users.models import User
from tests import helpers
from tests.support import databases, processes, services
from tests.support.otlp import OtlpReceiver, attributes, otlp_receiver
from tests.support.polling import eventually
from tests.support.settings import TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEY, make_settings

pytestmark = processes.HEAVY

BURST = 30
SHUTDOWN_TIMEOUT = 30


def _env(database_url: str, receiver: OtlpReceiver) -> dict[str, str]:
    return {
        "FORGE_ENVIRONMENT": "test",
        "FORGE_DATABASE_URL": database_url,
        "FORGE_MIGRATE_ON_START": "false",
        "FORGE_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        "FORGE_BLIND_INDEX_KEY": TEST_BLIND_INDEX_KEY,
        "FORGE_PASSWORD_HASH_MEMORY_KIB": "1024",
        "FORGE_PASSWORD_HASH_ITERATIONS": "1",
        "FORGE_RATE_LIMIT_DEFAULT": "100000/minute",
        "FORGE_RATE_LIMIT_REGISTER": "100000/minute",
        "FORGE_LOG_FORMAT": "json",
        "FORGE_SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_TIMEOUT),
        "FORGE_OTEL_EXPORTER": "otlp",
        "FORGE_OTEL_METRICS_ENABLED": "false",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "600000",  # never on schedule during the test: only the shutdown flush exports
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "100000",
        "OTEL_BSP_MAX_QUEUE_SIZE": "100000",
    }


def _logged_events(output: Path) -> list[str]:
    events = []
    for line in output.read_text(errors="replace").splitlines():
        try:
            entry: Any = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            events.append(str(entry.get("event")))
    return events


async def _slow_body(first_half: bytes, rest: bytes, release: asyncio.Event) -> AsyncIterator[bytes]:
    yield first_half
    await release.wait()
    yield rest


async def _until_in_flight(http: httpx.AsyncClient, count: int, *, seconds: float = 30.0) -> None:
    async def reached() -> bool:
        metrics = (await http.get("/metrics")).text
        [gauge] = [line for line in metrics.splitlines() if line.startswith("http_requests_in_flight ")]
        return float(gauge.split()[1]) >= count

    await eventually(reached, seconds=seconds, interval=0.05, message=f"{count} requests in flight")


def _never_accepted(error: Exception) -> bool:
    if isinstance(error, httpx.ConnectError):
        return True
    return isinstance(error, httpx.RemoteProtocolError) and "without sending a response" in str(error)


REGISTER = "/api/v1/auth/register"


def _registration() -> dict[str, str]:
    return {"email": helpers.unique_email("shutdown"), "password": helpers.PASSWORD}


async def _register(http: httpx.AsyncClient) -> httpx.Response | Exception:
    try:
        return await http.post(REGISTER, json=_registration())
    except httpx.HTTPError as exc:
        return exc


async def _until_refusing(base: str, process: Any, *, seconds: float = 15.0) -> None:
    """Until the server refuses new connections, while it is still running (the slow request holds it open)."""
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=base, timeout=5) as fresh:
        while True:
            assert process.poll() is None, "the server exited with a request still in flight"
            try:
                await fresh.get("/healthz", headers={"connection": "close"})
            except httpx.HTTPError as exc:
                # Refused, or (uvicorn, when the connection was already in the listen backlog at SIGTERM) taken
                # and closed without a response: either way no new request is served.
                if _never_accepted(exc):
                    return
                raise
            assert time.monotonic() < deadline, "still accepting connections after SIGTERM"
            await asyncio.sleep(0.05)


def _stopped_cleanly(server: str, output: Path, pid: int) -> bool:
    """What each server writes last on a clean stop, after the lifespan's own "stopped" (pools closed, tracer
    provider shut down): both servers' lines are JSON events (their loggers propagate to ours). granian's supervisor
    may log that it killed the worker just after its lifespan ended (its kill timeout counts from the signal)."""
    events = _logged_events(output)
    if server == "granian":
        return "stopped" in events[-4:] and events[-1] == "Granian shutdown completed, see ya!"
    return events[-3:] == ["stopped", "Application shutdown complete.", f"Finished server process [{pid}]"]


@pytest.mark.parametrize("server", ["uvicorn", "granian"])
async def test_sigterm_finishes_in_flight_requests_refuses_new_ones_and_flushes_spans(
    tmp_path: Path, server: str
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'shutdown.db'}"
    await databases.recreate(database_url)
    engine = create_engine(make_settings(database_url))
    await databases.upgrade(engine)
    output = tmp_path / "forge.log"
    with (
        otlp_receiver() as receiver,
        services.forge_process(_env(database_url, receiver), cwd=tmp_path, output=output, server=server) as (
            process,
            base,
        ),
    ):
        limits = httpx.Limits(max_connections=BURST + 5)
        async with httpx.AsyncClient(base_url=base, timeout=SHUTDOWN_TIMEOUT, limits=limits) as http:
            release = asyncio.Event()
            body = json.dumps(_registration()).encode()
            slow = asyncio.create_task(
                http.post(
                    REGISTER,
                    content=_slow_body(body[:10], body[10:], release),
                    headers={"Content-Type": "application/json"},
                )
            )
            # Under load the slow request may not have reached the server yet: wait until it is being served, so
            # that it certainly holds the server open past SIGTERM.
            await _until_in_flight(http, 2)  # the slow request, and the scrape that reads the gauge
            # The burst on connections of its own: none reuses an idle keep-alive connection that shutdown closes.
            burst_http = httpx.AsyncClient(base_url=base, timeout=SHUTDOWN_TIMEOUT, limits=limits)
            burst = [asyncio.create_task(_register(burst_http)) for _ in range(BURST)]
            await asyncio.wait(burst, return_when=asyncio.FIRST_COMPLETED)  # the server is busy with the burst

            process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            # Still running (the slow request holds it), yet no longer accepting connections.
            await _until_refusing(base, process)

            release.set()
            answers = [*await asyncio.gather(*burst), await slow]
            await burst_http.aclose()
        returncode = await asyncio.to_thread(process.wait, SHUTDOWN_TIMEOUT + 10)
        stopped_after = time.monotonic() - signalled

    events = _logged_events(output)
    # A clean shutdown: the lifespan ran to its end ("stopped": pools closed, tracer provider shut down), and no
    # request was cancelled at the deadline; `forge serve` then exits 0, a requested stop (cli._exit_cleanly).
    assert returncode == 0, output.read_text()
    assert _stopped_cleanly(server, output, process.pid), output.read_text(errors="replace")[-3000:]
    assert not [e for e in events if "timeout graceful shutdown exceeded" in e]
    assert stopped_after < SHUTDOWN_TIMEOUT
    # Every request the server had begun got its complete answer, a 201. The others were never accepted: their
    # connection was refused, or closed before the server read the request (no response begun), never cut mid-way.
    failures = [
        a for a in answers if (a.status_code != 201 if isinstance(a, httpx.Response) else not _never_accepted(a))
    ]
    assert not failures, failures
    acknowledged = {int(a.json()["id"]) for a in answers if isinstance(a, httpx.Response)}
    assert isinstance(answers[-1], httpx.Response), "the request in flight at SIGTERM was not answered"

    async with engine.connect() as connection:
        stored = set((await connection.execute(select(User.id))).scalars())
    await engine.dispose()
    assert stored == acknowledged

    # One exported server span per request answered: each was flushed at shutdown.
    exported = [s for s in receiver.by_name(f"POST {REGISTER}") if attributes(s)["http.response.status_code"] == 201]
    assert len(exported) == len(acknowledged)
