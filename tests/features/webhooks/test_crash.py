"""A real `forge serve` SIGKILLed while a delivery is pending (its first attempt failed, the retry queued): after a
restart the embedded worker delivers it, signed, with the same message id (SQLite and PostgreSQL)."""

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from app.config import Settings
from app.core.database import Database, utcnow
from app.core.events import Events
from app.core.jobs import JobState
from app.features.webhooks.models import DeliveryState
from app.jobs import event_subscriptions
from tests.support import processes
from tests.support.jobs import job_of, set_job
from tests.support.polling import eventually
from tests.support.settings import TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEY
from tests.support.webhooks import Answer, Receiver, attempts_of, deliveries, register

pytestmark = [processes.HEAVY, pytest.mark.settings(webhook_allow_private_networks=True)]


@contextmanager
def server(settings: Settings, log: Path) -> Iterator[subprocess.Popen[str]]:
    """`forge serve` (uvicorn, one process: a SIGKILL leaves no child running jobs) on the test database, its
    embedded worker on; killed when the block ends if still running."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("FORGE_")} | {
        "FORGE_DATABASE_URL": settings.database_url,
        "FORGE_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        "FORGE_BLIND_INDEX_KEY": TEST_BLIND_INDEX_KEY,
        "FORGE_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        "FORGE_JOBS_POLL_SECONDS": "0.05",
        "FORGE_RATE_LIMIT_ENABLED": "false",
        "FORGE_LOG_FORMAT": "json",
    }
    port = processes.free_port()
    with log.open("a") as output:
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [str(processes.FORGE), "serve", "--server", "uvicorn", "--workers", "1", "--port", str(port)],
            cwd=log.parent,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            if processes.wait_for_http(f"http://127.0.0.1:{port}/healthz", process) is None:
                pytest.fail(f"forge serve did not start:\n{log.read_text()}")
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


async def _awaiting_retry(database: Database) -> bool:
    found = await deliveries(database)
    if len(found) != 1 or found[0].job_id is None:
        return False
    job = await job_of(database, found[0].job_id)
    return job.state == JobState.QUEUED and job.attempts == 1


async def test_a_pending_delivery_is_delivered_after_the_server_is_killed_and_restarted(
    database: Database, settings: Settings, hooks: Receiver, tmp_path: Path
) -> None:
    hooks.answer("/in", Answer(503), Answer(200))
    endpoint = await register(database, settings, hooks.url("/in"), ["test.happened"])
    async with database.session(writes=True) as session, session.begin():
        await Events(event_subscriptions()).record(session, "test.happened", {"id": 7})
    log = tmp_path / "server.log"

    with server(settings, log) as first:
        await eventually(lambda: _awaiting_retry(database), seconds=60, message="the first attempt's retry")
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
    assert len(hooks.received("/in")) == 1
    [delivery] = await deliveries(database)
    assert delivery.state == DeliveryState.PENDING
    await set_job(database, delivery.job_id or 0, run_at=utcnow())  # the retry due now, rather than in 5 s

    with server(settings, log):
        await eventually(lambda: _delivered(database), seconds=60, message="the delivery after the restart")
    first_request, second_request = hooks.received("/in")
    assert second_request.headers["webhook-id"] == first_request.headers["webhook-id"]
    assert Webhook(endpoint.secret).verify(second_request.body, second_request.headers)["data"] == {"id": 7}
    assert [attempt.status_code for attempt in await attempts_of(database, delivery.id)] == [503, 200]


async def _delivered(database: Database) -> bool:
    return [delivery.state for delivery in await deliveries(database)] == [DeliveryState.SUCCEEDED]
