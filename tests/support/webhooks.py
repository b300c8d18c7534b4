"""Webhook receivers for the delivery tests: a real HTTP server on loopback, in a thread, answering each path as a
test scripts it, and keeping every request it got (headers and body, byte for byte) for the test to verify.

    receiver.answer("/flaky", Answer(500), Answer(500), Answer(200))   # then 200 for any later request
    receiver.answer("/hangs", Answer(hang=True))                       # holds the request until the test ends
    receiver.answer("/moved", Answer(302, headers={"location": "http://10.0.0.1/"}))

With a certificate (tests/support/certificates.py), `receiver(tls=...)` answers https only, and keeps the name each
client asked for in its TLS handshake (SNI) in `server_names`, a handshake it refused included.

An unscripted path answers 204. Also: the webhook tables emptied, endpoints made through the service on a
committed database, and deliveries read back.
"""

import ssl
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.core.database import Database
from app.core.encryption import configure_encryption, load_keys
from app.core.events import Event
from app.features.webhooks import service
from app.features.webhooks.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.features.webhooks.schemas import WebhookCreate, WebhookWithSecret
from tests.support.audit import audit_as, clear_audit
from tests.support.certificates import ServerCertificate
from tests.support.jobs import clear_jobs

__all__ = [
    "Answer",
    "Receiver",
    "Request",
    "attempts_of",
    "clear_webhooks",
    "deliveries",
    "endpoint_of",
    "receiver",
    "register",
    "stored_deliveries",
    "webhook_database",
]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    hang: bool = False  # never answer: hold the request until the receiver stops


@dataclass(frozen=True, slots=True)
class Request:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Receiver:
    base: str = ""
    port: int = 0
    server_names: list[str | None] = field(default_factory=list)  # SNI of each TLS handshake, in order
    requests: list[Request] = field(default_factory=list)
    scripts: dict[str, list[Answer]] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def answer(self, path: str, *answers: Answer) -> None:
        """Answer `path`'s requests with `answers` in turn, the last one from then on."""
        with self.lock:
            self.scripts[path] = list(answers)

    def received(self, path: str) -> list[Request]:
        with self.lock:
            return [request for request in self.requests if request.path == path]

    def next_answer(self, path: str) -> Answer:
        with self.lock:
            script = self.scripts.get(path)
            if not script:
                return Answer(204)
            return script.pop(0) if len(script) > 1 else script[0]


class _Server(ThreadingHTTPServer):
    receiver: Receiver
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        with receiver.lock:
            receiver.requests.append(Request(self.path, headers, body))
        answer = receiver.next_answer(self.path)
        if answer.hang:
            receiver.stopping.wait()
            self.close_connection = True
            return
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, *_args: Any) -> None:
        return


def _serving_tls(server: _Server, state: Receiver, certificate: ServerCertificate) -> None:
    context = certificate.server_context()

    def seen(_socket: ssl.SSLObject, server_name: str | None, _context: ssl.SSLContext) -> None:
        with state.lock:
            state.server_names.append(server_name)

    context.sni_callback = seen
    # The handshake runs on accept; one that fails (the client refused the certificate) drops that connection only.
    server.socket = context.wrap_socket(server.socket, server_side=True)


@contextmanager
def receiver(tls: ServerCertificate | None = None) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 (a free port), http or, with a certificate, https; stopped when the block ends."""
    state = Receiver()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.receiver = state
    state.port = server.server_address[1]
    if tls is not None:
        _serving_tls(server, state, tls)
    state.base = f"{'https' if tls else 'http'}://127.0.0.1:{state.port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopping.set()
        server.shutdown()
        server.server_close()


async def clear_webhooks(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        for table in (WebhookAttempt, WebhookDelivery, WebhookEndpoint, Event):
            await connection.execute(delete(table))


@asynccontextmanager
async def webhook_database(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Database]:
    """The app's database on the test database with its encryption keys installed (the secrets are encrypted), for
    tests whose rows are committed: the webhooks, events and jobs are removed afterwards."""
    configure_encryption(load_keys(settings))
    database = Database(settings)
    try:
        yield database
    finally:
        await database.dispose()
        await clear_jobs(engine)
        await clear_webhooks(engine)
        await clear_audit(engine)


async def register(
    database: Database, settings: Settings, url: str, events: list[str], description: str = ""
) -> WebhookWithSecret:
    """An endpoint registered (committed) as the admin API registers one."""
    async with database.session(writes=True) as session, session.begin():
        data = WebhookCreate(url=url, events=events, description=description)
        return await service.create_endpoint(session, data=data, settings=settings, audit=audit_as())


async def endpoint_of(database: Database, endpoint_id: int) -> WebhookEndpoint:
    async with database.session(writes=False) as session:
        return (await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))).one()


async def deliveries(database: Database, endpoint_id: int | None = None) -> list[WebhookDelivery]:
    statement = select(WebhookDelivery).order_by(WebhookDelivery.id)
    if endpoint_id is not None:
        statement = statement.where(WebhookDelivery.endpoint_id == endpoint_id)
    async with database.session(writes=False) as session:
        return list((await session.scalars(statement)).all())


async def attempts_of(database: Database, delivery_id: int) -> list[WebhookAttempt]:
    statement = select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.id)
    async with database.session(writes=False) as session:
        return list((await session.scalars(statement)).all())


async def stored_deliveries(
    database: Database,
    outcomes: Sequence[tuple[DeliveryState, datetime | None]],
    *,
    url: str = "https://hooks.example.com/in",
) -> tuple[int, list[int]]:
    """An endpoint with a delivery in each (state, finished_at), committed as a worker would have left them, with no
    job behind them: the endpoint's id and the deliveries'."""
    async with database.session(writes=True) as session, session.begin():
        endpoint = WebhookEndpoint(url=url, event_types=["*"], secret="whsec_stored")
        session.add(endpoint)
        await session.flush()
        made = [
            WebhookDelivery(
                endpoint_id=endpoint.id,
                event_type="test.happened",
                message_id=f"msg_stored_{n}",
                body="{}",
                state=state,
                finished_at=finished_at,
            )
            for n, (state, finished_at) in enumerate(outcomes)
        ]
        session.add_all(made)
        await session.flush()
        return endpoint.id, [delivery.id for delivery in made]
