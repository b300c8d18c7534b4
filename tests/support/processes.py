"""Real server processes for tests that cross process boundaries (forge serve, redis-server)."""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

__all__ = ["HEAVY", "forge_serve", "forge_serve_exits", "free_port", "redis_server", "wait_for_http"]

FORGE = Path(sys.executable).parent / "forge"

# Tests that start servers, worker processes or builds of their own. Under pytest-xdist with `--dist loadgroup`
# (.ci/run) they run one after another on one worker: two of them at once on two cores miss their deadlines.
HEAVY = pytest.mark.xdist_group("heavy")


def unavailable(reason: str) -> NoReturn:
    """Skip the test for `reason`, or fail it under FORGE_REQUIRE_SERVICES=1 (CI), where nothing may be missing."""
    if os.environ.get("FORGE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"FORGE_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def uv_or_skip(purpose: str) -> str:
    """The uv binary ($UV, else on PATH), or the test is `unavailable` with `purpose` in the reason."""
    uv = os.environ.get("UV") or shutil.which("uv")
    return uv if uv is not None else unavailable(f"uv is not installed: {purpose}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_for_http(url: str, process: subprocess.Popen[str], *, seconds: float = 120.0) -> httpx.Response | None:
    """The first answer from `url`; None when the process exits first or `seconds` pass. Starting up is not under
    test: on a loaded machine (parallel test workers) importing the app alone can take several seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.05)
    return None


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    try:
        output, _ = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output or ""


def forge_serve_exits(env: Mapping[str, str], *, cwd: Path, server: str) -> subprocess.CompletedProcess[str]:
    """`forge serve --server SERVER` with exactly `env`, for a start that must fail: its exit and its output."""
    return subprocess.run(  # noqa: S603 - our own console script
        [str(FORGE), "serve", "--server", server, "--port", str(free_port())],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextmanager
def forge_serve(
    env: Mapping[str, str], *, cwd: Path, port: int | None = None, args: Sequence[str] = ()
) -> Iterator[str]:
    """`forge serve` in a subprocess with only the given FORGE_* variables; yields its base URL once ready."""
    port = port or free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FORGE_")} | dict(env)
    process = subprocess.Popen(  # noqa: S603 - our own console script
        [str(FORGE), "serve", "--port", str(port), *args],
        cwd=cwd,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        if wait_for_http(f"{base}/healthz", process) is None:
            pytest.fail(f"forge serve did not start:\n{_stop(process)}")
        yield base
    finally:
        _stop(process)


@contextmanager
def redis_server(port: int) -> Iterator[subprocess.Popen[str]]:
    """A private, throw-away redis-server (so that a test can stop it without disturbing anyone else)."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed")
    process = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        for _ in range(200):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.02)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)
