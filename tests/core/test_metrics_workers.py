"""One scrape of /metrics reports the whole server: every worker's requests, through the death of a worker.

`forge serve --workers 2` (granian and uvicorn) gives each worker a file in the metrics directory; the worker that
answers a scrape adds them all up. Counters count every worker that served in this run, the dead included; gauges
count the living.
"""

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import API_PREFIX
from app.core.metrics import (
    ROUTE_TEMPLATE_STATE,
    Metrics,
    MetricsDirectoryInUseError,
    exposition,
    read_shards,
    server_metrics_directory,
)
from tests.support import processes, services
from tests.support.polling import eventually
from tests.support.prometheus import sample

ROUTE = f"{API_PREFIX}/config"  # a route every project has, which touches no database
BATCH = 40


def _readings(*, in_use: int, overflow: int, rejected: dict[str, int], backend_failures: int) -> dict[str, Any]:
    """What a worker publishes (`state_readings`): a pool of five, and its rate limiter's counts."""
    return {
        "db_pool_size": 5,
        "db_pool_connections_in_use": in_use,
        "db_pool_overflow": overflow,
        "rate_limit_rejections": rejected,
        "rate_limit_backend_failures": backend_failures,
    }


# What another worker of the same server publishes, next to what the test's own "worker" publishes.
THEIR_READINGS = _readings(in_use=2, overflow=1, rejected={"default": 2, "login": 0}, backend_failures=1)
OUR_READINGS = _readings(in_use=0, overflow=0, rejected={"default": 3, "login": 1}, backend_failures=0)
# Another worker: it counts three requests to /x, starts a fourth that never ends, and waits to be killed.
OTHER_WORKER = f"""
import asyncio, sys
from pathlib import Path
from app.core.metrics import ROUTE_TEMPLATE_STATE, Metrics

async def main() -> None:
    metrics = Metrics(api_prefix="/api/v1")
    metrics.share(Path(sys.argv[1]), lambda: {THEIR_READINGS!r})
    metrics.publish({THEIR_READINGS!r})
    scope = {{"method": "GET", "path": "/x", "state": {{ROUTE_TEMPLATE_STATE: "/x"}}}}
    for _ in range(3):
        metrics.http.started()
        metrics.http.finished(scope, 200, 0.01)
    metrics.http.started()
    print("ready", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def _scope(route: str) -> dict[str, Any]:
    return {"method": "GET", "path": route, "state": {ROUTE_TEMPLATE_STATE: route}}


def _count(metrics: Metrics, route: str, times: int) -> None:
    for _ in range(times):
        metrics.http.started()
        metrics.http.finished(_scope(route), 200, 0.002)


async def _earlier_run(directory: Path, requests: int) -> None:
    """What a worker of an earlier run left in `directory`: counts that a new run must not report."""
    metrics = Metrics(api_prefix=API_PREFIX)
    metrics.share(directory, dict)
    _count(metrics, ROUTE, requests)
    metrics.unshare()


async def _send(base: str, count: int) -> None:
    """`count` requests to ROUTE, 8 at a time, each on a connection of its own: every connection goes to whichever
    worker accepts it, so both workers serve some."""
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
        answers = await asyncio.gather(*(http.get(ROUTE) for _ in range(count)))
    assert {answer.status_code for answer in answers} == {200}


def _served_by_worker(directory: Path) -> dict[int, float]:
    """Requests to ROUTE per living worker (by pid), each worker's file read alone."""
    return {
        shard.pid: _requests_counted(exposition([shard]).decode()) or 0.0
        for shard in read_shards(directory)
        if shard.live
    }


async def _scraped(base: str) -> str:
    """/metrics, on a new connection (one to a killed worker would fail), from whichever worker answers."""
    text = ""

    async def answered() -> bool:
        nonlocal text
        try:
            async with httpx.AsyncClient(base_url=base, timeout=10) as http:
                response = await http.get("/metrics")
        except httpx.TransportError:
            return False
        text = response.text
        return response.status_code == 200

    await eventually(answered, seconds=60, interval=0.1, message="no worker answered /metrics")
    return text


def _requests_counted(text: str) -> float | None:
    return sample(text, "http_requests_total", method="GET", route=ROUTE, status="200")


@processes.HEAVY
@pytest.mark.parametrize("server", ["granian", "uvicorn"])
async def test_one_scrape_counts_every_workers_requests_even_after_a_worker_is_killed(
    tmp_path: Path, server: str
) -> None:
    directory = tmp_path / "metrics"
    await _earlier_run(directory, requests=1000)
    env = {
        "FORGE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'workers.db'}",
        "FORGE_METRICS_DIR": str(directory),
        "FORGE_RATE_LIMIT_DEFAULT": "1000000/minute",
    }
    with services.forge_process(env, cwd=tmp_path, output=tmp_path / "forge.log", server=server, workers=2) as (
        process,
        base,
    ):
        sent = 0
        while sum(1 for count in _served_by_worker(directory).values() if count) < 2:
            assert sent < 25 * BATCH, f"one worker accepted all {sent} connections"
            await _send(base, BATCH)
            sent += BATCH

        assert _requests_counted(await _scraped(base)) == sent

        served = _served_by_worker(directory)
        victim = max(served, key=lambda pid: served[pid])
        assert victim > 0  # never 0, which would kill this process's own group
        os.kill(victim, signal.SIGKILL)
        assert _requests_counted(await _scraped(base)) == sent  # from the survivor, with the victim's counts

        def replaced() -> bool:
            living = _served_by_worker(directory)
            return len(living) == 2 and victim not in living

        await eventually(replaced, seconds=120, interval=0.2, message="no worker replaced the killed one")
        assert process.poll() is None
        for _ in range(4):  # whichever worker answers, the old or the new
            text = await _scraped(base)
            assert _requests_counted(text) == sent
            assert sample(text, "http_requests_in_flight") == 1  # the scrape; not the killed worker's


async def test_counters_of_a_killed_worker_stay_and_its_gauges_go(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    ours = Metrics(api_prefix=API_PREFIX)
    ours.share(directory, lambda: OUR_READINGS)
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", OTHER_WORKER, str(directory), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert worker.stdout is not None
        assert (await worker.stdout.readline()).strip() == b"ready"
        _count(ours, "/x", 1)
        alive = ours.render(OUR_READINGS).decode()
        worker.kill()
        await worker.wait()
        gone = ours.render(OUR_READINGS).decode()
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
        ours.unshare()

    for text in (alive, gone):  # counters: both workers', before and after the other's death
        assert sample(text, "http_requests_total", method="GET", route="/x", status="200") == 4
        assert sample(text, "http_request_duration_seconds_count", method="GET", route="/x") == 4
        assert sample(text, "rate_limit_rejections_total", policy="default") == 5
        assert sample(text, "rate_limit_rejections_total", policy="login") == 1
        assert sample(text, "rate_limit_backend_failures_total") == 1
    # Gauges: the sum over the living workers; the other's request in flight ends with it.
    assert _gauges(alive) == {"in_flight": 1, "size": 10, "in_use": 2, "overflow": 1}
    assert _gauges(gone) == {"in_flight": 0, "size": 5, "in_use": 0, "overflow": 0}


def _gauges(text: str) -> Mapping[str, float | None]:
    return {
        "in_flight": sample(text, "http_requests_in_flight"),
        "size": sample(text, "db_pool_size"),
        "in_use": sample(text, "db_pool_connections_in_use"),
        "overflow": sample(text, "db_pool_overflow"),
    }


@pytest.mark.parametrize("shared", [False, True])
async def test_series_keep_counting_past_the_first_buffer(tmp_path: Path, *, shared: bool) -> None:
    metrics = Metrics(api_prefix=API_PREFIX)
    if shared:
        metrics.share(tmp_path / "metrics", dict)
    routes = [f"/route-{n}" for n in range(300)]  # about 50 KB of series, several times the first buffer
    for route in routes:
        _count(metrics, route, 1)
    for route in routes:
        _count(metrics, route, 1)
    text = metrics.render({}).decode()
    metrics.unshare()
    assert [sample(text, "http_requests_total", method="GET", route=r, status="200") for r in routes] == [2] * 300


def test_a_server_run_starts_with_no_earlier_counts_and_keeps_its_directory_to_itself(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "worker-1-earlier.metrics").write_bytes(b"an earlier run's counts")
    (directory / "notes.txt").write_text("not ours")
    with server_metrics_directory(directory) as ready:
        assert sorted(path.name for path in ready.iterdir()) == ["notes.txt", "server.lock"]
        with pytest.raises(MetricsDirectoryInUseError), server_metrics_directory(directory):
            pass
    with server_metrics_directory(None) as fresh:
        assert fresh.is_dir()
    assert not fresh.exists()
