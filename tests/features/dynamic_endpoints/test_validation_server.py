"""Issue 24, item 1, against a real `forge serve` (one worker): the attacker's 54 KiB body of 5,000 objects for a
public `uniqueItems` endpoint is answered, and `/healthz` on the same worker keeps answering meanwhile.

How little of the validation the event loop does is counted, not timed, in test_bounded_validation.py (a loaded
machine stretched this worker's answers to 11 s while the loop was free)."""

import asyncio
from pathlib import Path

import httpx

from tests import helpers
from tests.support import processes
from tests.support.accounts import create_admin
from tests.support.dynamic_endpoints import ADMIN_ENDPOINTS, collection
from tests.support.settings import TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEY

pytestmark = processes.HEAVY

ITEMS = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
SCHEMA = {"type": "object", "properties": {"items": {"type": "array", "uniqueItems": True, "items": ITEMS}}}


async def _healthz_answers(http: httpx.AsyncClient, base: str, done: asyncio.Event) -> int:
    """/healthz, one request after another until `done`: how many were answered, each a 200."""
    answered = 0
    while not done.is_set():
        assert (await http.get(f"{base}/healthz")).status_code == 200
        answered += 1
        await asyncio.sleep(0.01)
    return answered


async def test_a_costly_body_neither_stalls_the_worker_nor_its_answer(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'validation.db'}"
    env = {
        "FORGE_DATABASE_URL": database_url,
        "FORGE_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        "FORGE_BLIND_INDEX_KEY": TEST_BLIND_INDEX_KEY,
        "FORGE_PASSWORD_HASH_MEMORY_KIB": "1024",
        "FORGE_RATE_LIMIT_ENABLED": "false",
        "FORGE_LOG_LEVEL": "WARNING",
        "FORGE_WORKERS": "1",
    }
    with processes.forge_serve(env, cwd=tmp_path) as base:  # applies the migrations (development)
        email = await create_admin(database_url)
        async with httpx.AsyncClient(timeout=60) as http:
            login = await http.post(f"{base}/api/v1/auth/token", data={"username": email, "password": helpers.PASSWORD})
            headers = helpers.bearer(login.json()["access_token"])
            spec = collection(name="probe", path="/api/v1/x/probe", request_schema=SCHEMA)
            assert (await http.post(f"{base}{ADMIN_ENDPOINTS}", json=spec, headers=headers)).status_code == 201
            body = {"items": [{"a": i} for i in range(5_000)]}

            done = asyncio.Event()
            watcher = asyncio.create_task(_healthz_answers(http, base, done))
            answer = await http.post(f"{base}/api/v1/x/probe", json=body)
            done.set()
            healthz_answers = await watcher

    assert answer.status_code == 201, answer.text
    assert healthz_answers >= 1
