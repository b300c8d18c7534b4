"""Private, throw-away PostgreSQL and Redis servers that a test or script may stop and restart at will.

The machine's shared servers (5432, 6379) serve other test runs: faults are only ever injected into servers
started here, on free ports, in a temporary directory. No pytest in this module, so that scripts (benchmarks, such
as the fault benchmark) can use it too; `tests/support/processes.py` turns a missing binary into a skip.

initdb and postgres refuse to run as root: when this process is root, they run as the `postgres` OS user
(`runuser`), in a directory handed over to that user.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = [
    "FORGE",
    "MissingServiceError",
    "PostgresServer",
    "RedisServer",
    "forge_process",
    "free_port",
    "missing_binaries",
    "postgres_server",
    "private_redis",
    "wait_for_http",
    "wait_for_port",
]


class MissingServiceError(RuntimeError):
    """A server binary this helper needs is not installed (the message names it)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_for_port(port: int, *, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.02)
    return False


def _postgres_binary(name: str) -> str:
    found = shutil.which(name)
    if found is not None:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if candidates:
        return str(candidates[-1])
    msg = f"{name} (PostgreSQL server) is not installed"
    raise MissingServiceError(msg)


def missing_binaries() -> list[str]:
    """The server binaries `postgres_server` and `private_redis` need that this machine lacks."""
    missing = []
    for name in ("initdb", "pg_ctl"):
        try:
            _postgres_binary(name)
        except MissingServiceError:
            missing.append(name)
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    return missing


def _as_postgres_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        msg = "running as root and runuser is missing: cannot start PostgreSQL as the postgres user"
        raise MissingServiceError(msg)
    return [runuser, "-u", "postgres", "--"]


class PostgresServer:
    """One initdb'd cluster on a private port; `stop`, `start` and `restart` inject database outages."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self._pg_ctl = _postgres_binary("pg_ctl")
        self._prefix = _as_postgres_user()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str) -> None:
        # fsync off: a throw-away cluster, and every stop here is a clean one (-m fast checkpoints first).
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        command = [*self._prefix, self._pg_ctl, "-D", str(self.directory / "data"), "-o", options]
        command += ["-l", str(self.directory / "postgres.log"), "-w", "-t", "60", *args]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603

    def initdb(self) -> None:
        initdb = _postgres_binary("initdb")
        command = [*self._prefix, initdb, "-D", str(self.directory / "data"), "-A", "trust", "-U", "postgres", "-N"]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        """A fast shutdown: open transactions are rolled back and every client connection is terminated."""
        self._ctl("-m", "fast", "stop")

    def restart(self) -> None:
        self._ctl("-m", "fast", "restart")

    def log(self) -> str:
        path = self.directory / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def postgres_server(port: int | None = None) -> Iterator[PostgresServer]:
    """A fresh cluster (trust authentication, user `postgres`), started; stopped and deleted on exit."""
    directory = Path(tempfile.mkdtemp(prefix="forge-pg-"))
    try:
        server = PostgresServer(directory, port or free_port())
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
        server.initdb()
        server.start()
        try:
            yield server
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
                server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class RedisServer:
    """A redis-server on a private port (no persistence); `stop` and `start` again on the same port."""

    def __init__(self, port: int) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            msg = "redis-server is not installed"
            raise MissingServiceError(msg)
        self.binary = binary
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_for_port(self.port):
            msg = f"redis-server did not listen on {self.port}"
            raise RuntimeError(msg)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def private_redis(port: int | None = None) -> Iterator[RedisServer]:
    server = RedisServer(port or free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


FORGE = Path(sys.executable).parent / "forge"


def wait_for_http(url: str, process: subprocess.Popen[bytes], *, seconds: float = 120.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.05)
        else:
            return True
    return False


@contextmanager
def forge_process(
    env: Mapping[str, str],
    *,
    cwd: Path,
    output: Path,
    port: int | None = None,
    workers: int = 1,
    server: str | None = None,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`forge serve` with only the given FORGE_* variables, its output in `output`; yields it and its base URL.

    On exit it is sent SIGTERM (if still running) and waited for; the caller may signal it earlier itself.
    """
    port = port or free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FORGE_")} | dict(env)
    command = [str(FORGE), "serve", "--port", str(port), "--workers", str(workers)]
    command += ["--server", server] if server else []
    with output.open("ab") as log:
        process = subprocess.Popen(command, cwd=cwd, env=clean, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_http(f"{base}/healthz", process):
            msg = f"forge serve did not start:\n{output.read_text(errors='replace')}"
            raise RuntimeError(msg)
        yield process, base
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
