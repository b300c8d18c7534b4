"""Real upstream HTTP servers for the aggregation tests: a ThreadingHTTPServer on a free port, in a thread.

The first path segment chooses the behaviour; the rest only tells requests apart (`/ok/weather`, `/ok/stock`):

    /ok/...             200 JSON naming the path
    /together/...       200 JSON, but only once two such requests are in flight at the same time (a barrier)
    /slow/...           never answers; records when the client goes away
    /fail/...           500 with a body that must never reach our clients (SECRET)
    /malformed/...      200 with an HTML body
    /nan/...            200 with `NaN` in the body: JavaScript, not JSON
    /huge/...           200, no Content-Length, streams up to HUGE_BYTES; records what it sent and the disconnect
    /huge-declared/...  200 declaring a 10 GB Content-Length, then waits for the client to go away
    /redirect/...       302 to /ok/ (redirects are not followed)
    /held/...           200 JSON once the test calls `release()`; `in_flight` counts the requests held meanwhile
    /gzip-bomb/...      200 `Content-Encoding: gzip` although identity was asked for: 64 KiB that inflate to
                        BOMB_BYTES of JSON

`refused_url` points at a port where nothing listens. `connections` counts the TCP connections accepted: what a
client's pool opened, seen from outside it (a reused keep-alive connection is not counted again).
"""

import asyncio
import functools
import json
import select
import socket
import threading
import zlib
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.support.polling import eventually
from tests.support.processes import free_port

__all__ = ["BOMB_BYTES", "HUGE_BYTES", "SECRET", "Upstreams", "gzip_bomb", "hold", "release", "upstream_servers"]

SECRET = "upstream-internal-detail-7f3a"
HUGE_BYTES = 256 * 1024 * 1024
_CHUNK = b"[" + b"1," * 32_767 + b"1"  # 64 KiB of the start of a JSON array that never ends
_POLL_SECONDS = 0.02
BOMB_BYTES = 64 * 1024 * 1024


@functools.cache
def gzip_bomb() -> bytes:
    """A gzip member of 64 KiB that inflates to just over BOMB_BYTES of valid JSON, `[0,0,...,0]`."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # 16+: the gzip container
    zeros = b"0," * (1024 * 1024 // 2)
    parts = [compressor.compress(b"[")]
    parts += [compressor.compress(zeros) for _ in range(BOMB_BYTES // len(zeros) - 1)]
    parts.append(compressor.compress(zeros[:-1] + b"]"))
    parts.append(compressor.flush())
    return b"".join(parts)


@dataclass
class Upstreams:
    base: str
    refused_url: str
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    # path -> set once the client closed its connection while the handler was still serving it
    disconnected: defaultdict[str, threading.Event] = field(default_factory=lambda: defaultdict(threading.Event))
    sent_bytes: dict[str, int] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)
    barrier: threading.Barrier = field(default_factory=lambda: threading.Barrier(2, timeout=5))
    connections: int = 0
    in_flight: int = 0
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def release(self) -> None:
        """Answer the held requests, and any later ones at once."""
        self.released.set()

    def url(self, kind: str) -> str:
        return self.refused_url if kind == "refused" else f"{self.base}/{kind}"

    def headers_of(self, path: str) -> list[dict[str, str]]:
        return [headers for request_path, headers in self.requests if request_path == path]


def _client_gone(connection: socket.socket) -> bool:
    readable, _, _ = select.select([connection], [], [], _POLL_SECONDS)
    if not readable:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class _Server(ThreadingHTTPServer):
    upstreams: Upstreams


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as real upstreams do

    def setup(self) -> None:
        super().setup()
        with self.server.upstreams.lock:
            self.server.upstreams.connections += 1

    def do_GET(self) -> None:
        self.server.upstreams.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        kind = self.path.split("/")[1]
        getattr(self, f"_{kind.replace('-', '_')}")()

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _ok(self) -> None:
        self._send(200, json.dumps({"path": self.path}).encode())

    def _together(self) -> None:
        self.server.upstreams.barrier.wait()
        self._ok()

    def _held(self) -> None:
        upstreams = self.server.upstreams
        with upstreams.lock:
            upstreams.in_flight += 1
        try:
            upstreams.released.wait(timeout=30)
            self._ok()
        finally:
            with upstreams.lock:
                upstreams.in_flight -= 1

    def _wait_for_disconnect(self) -> None:
        while not self.server.upstreams.stopping.is_set():
            if _client_gone(self.connection):
                self.server.upstreams.disconnected[self.path].set()
                break
        self.close_connection = True

    def _slow(self) -> None:
        self._wait_for_disconnect()

    def _fail(self) -> None:
        self._send(500, json.dumps({"error": SECRET, "trace": "Traceback ..."}).encode())

    def _malformed(self) -> None:
        self._send(200, b"<html><body>Service Temporarily Unavailable</body></html>", "text/html")

    def _nan(self) -> None:
        self._send(200, b'{"temperature": NaN}')

    def _redirect(self) -> None:
        self.send_response(302)
        self.send_header("location", "/ok/redirected")
        self.send_header("content-length", "0")
        self.end_headers()

    def _gzip_bomb(self) -> None:
        body = gzip_bomb()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-encoding", "gzip")
        self.send_header("content-length", str(len(body)))  # small: the declared-size check lets it through
        self.end_headers()
        self.wfile.write(body)

    def _huge(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("connection", "close")  # the body ends when the connection does
        self.end_headers()
        self.close_connection = True
        sent = 0
        try:
            while sent < HUGE_BYTES and not self.server.upstreams.stopping.is_set():
                self.wfile.write(_CHUNK)
                sent += len(_CHUNK)
        except OSError:  # BrokenPipe, ConnectionReset: the client stopped reading and closed
            self.server.upstreams.disconnected[self.path].set()
        self.server.upstreams.sent_bytes[self.path] = sent

    def _huge_declared(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(10 * 1024**3))
        self.end_headers()
        self.wfile.write(_CHUNK)
        self.wfile.flush()
        self._wait_for_disconnect()

    def log_message(self, *_args: Any) -> None:
        return  # keep test output clean


@contextmanager
def upstream_servers() -> Iterator[Upstreams]:
    upstreams = Upstreams(base="", refused_url=f"http://127.0.0.1:{free_port()}/")
    server = _Server(("127.0.0.1", 0), _Handler)
    server.upstreams = upstreams
    upstreams.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield upstreams
    finally:
        upstreams.stopping.set()
        upstreams.released.set()
        upstreams.barrier.abort()
        server.shutdown()
        server.server_close()


async def hold(
    client: httpx.AsyncClient, upstreams: Upstreams, count: int, *, seconds: float = 10.0
) -> list[asyncio.Task[httpx.Response]]:
    """`count` requests through `client`, each holding one of its pool's connections until `release`. Fails
    unless all of them reach the upstream within `seconds`: a pool with fewer free connections queues the rest."""
    upstreams.released.clear()
    held = [asyncio.create_task(client.get(f"{upstreams.base}/held/{i}")) for i in range(count)]
    await eventually(lambda: upstreams.in_flight == count, seconds=seconds, message=f"{count} requests held")
    return held


async def release(upstreams: Upstreams, held: list[asyncio.Task[httpx.Response]]) -> None:
    """Answer the `held` requests; each must succeed."""
    upstreams.release()
    assert [response.status_code for response in await asyncio.gather(*held)] == [200] * len(held)
