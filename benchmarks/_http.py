"""Serve an app with uvicorn in a subprocess pinned to one core and load it with wrk pinned to the other."""

import base64
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["WrkResult", "median", "run_wrk", "serve", "serve_forge", "wrk_available"]

_CPUS = os.cpu_count() or 1
_ROOT = Path(__file__).resolve().parent.parent
# Throw-away keys shared by every server of one benchmark run, so that each can read what another wrote, and none
# generates a key file of its own.
_RUN_KEYS = {
    "FORGE_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    "FORGE_BLIND_INDEX_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
}


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors plus non-2xx/3xx answers
    # CPU time the server's processes spent per request during the run (None for a server not started here).
    # Unlike requests/s, it hardly moves when other work shares the machine: a saturated worker's throughput is
    # 1 / its CPU time per request, so ratios of the two agree on a quiet machine and this one stays readable on
    # a busy one.
    server_cpu_us: float | None = None
    requests: int = 0  # answered in the run, whatever their status


# Base URL -> the pid of the server process serving it, for run_wrk's CPU accounting.
_SERVERS: dict[str, int] = {}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def _cpu_seconds(root: int) -> float | None:
    """User + system CPU of a process and its living descendants (workers), from /proc; None off Linux."""
    if not Path("/proc/self/stat").exists():
        return None
    ticks = 0
    for pid in _process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / _CLOCK_TICKS


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _pin(core: int) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(core % _CPUS)] if taskset and _CPUS > 1 else []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def _running(
    command: list[str], env: Mapping[str, str] | None, port: int, name: str, start_timeout: float = 60
) -> Iterator[str]:
    # Only the settings the benchmark gives: none of the shell's FORGE_* (a FORGE_REDIS_URL would quietly move the
    # limiter to Redis), and a working directory of its own, so that no .env is read and no key file is written here.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("FORGE_")}
    workdir = tempfile.TemporaryDirectory(prefix="forgeapi-bench-")
    # The benchmark's own apps (benchmarks._baseline...) import from the project root, not from that directory.
    search_path = os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")]))
    environment = {**inherited, **_RUN_KEYS, "PYTHONPATH": search_path, **(env or {})}
    process = subprocess.Popen([*_pin(0), *command], env=environment, cwd=workdir.name)
    base = f"http://127.0.0.1:{port}"
    _SERVERS[base] = process.pid
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}")
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start in {start_timeout:.0f} s") from None
                time.sleep(0.05)
        yield base
    finally:
        _SERVERS.pop(base, None)
        process.terminate()
        try:
            process.wait(timeout=45)  # the service's own graceful-shutdown bound is 30 s
        except subprocess.TimeoutExpired:
            process.kill()  # what a stop that overran its bound would get from an orchestrator
            process.wait()
        workdir.cleanup()


def serve(
    app_path: str,
    *,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    factory: bool = False,
    server: str = "uvicorn",
    wrapper: Sequence[str] = (),
    start_timeout: float = 60,
) -> AbstractContextManager[str]:
    """Run `app_path` under uvicorn (uvloop, httptools) or granian and yield its base URL once it answers.

    `wrapper` runs the server under another command (valgrind, say); give it a `start_timeout` to match.
    """
    port = _free_port()
    if server == "granian":
        command = [sys.executable, "-m", "granian", "--interface", "asgi", "--loop", "uvloop", "--no-access-log"]
        command += ["--log-level", "warning", "--port", str(port), "--workers", str(workers), app_path]
        command += ["--factory"] if factory else []
    else:
        command = [sys.executable, "-m", "uvicorn", app_path, "--port", str(port), "--workers", str(workers)]
        command += ["--no-access-log", "--log-level", "warning", "--loop", "uvloop", "--http", "httptools"]
        command += ["--factory"] if factory else []
    return _running([*wrapper, *command], env, port, app_path, start_timeout)


def serve_forge(*, env: Mapping[str, str], server: str = "uvicorn", workers: int = 1) -> AbstractContextManager[str]:
    """The service as users run it: `forge serve`, with the given settings."""
    port = _free_port()
    forge = str(Path(sys.executable).with_name("forge"))
    command = [forge, "serve", "--port", str(port), "--workers", str(workers), "--server", server]
    return _running(command, env, port, "forge serve")


_LATENCY = re.compile(r"^\s*(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(url: str, *, seconds: int, connections: int = 64, script: str | None = None) -> WrkResult:
    command = [*_pin(1), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        command[len(_pin(1)) + 1 : len(_pin(1)) + 1] = ["-s", script]
    server = next((pid for base, pid in _SERVERS.items() if url.startswith(base)), None)
    cpu_before = _cpu_seconds(server) if server is not None else None
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu_after = _cpu_seconds(server) if server is not None else None
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    server_cpu_us = None
    if cpu_before is not None and cpu_after is not None and requests:
        server_cpu_us = (cpu_after - cpu_before) / requests * 1e6
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latencies = {p: float(v) * _UNITS[u] for p, v, u in _LATENCY.findall(output)}
    errors = 0
    if socket_errors := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        errors += sum(int(n) for n in socket_errors.groups())
    if non_2xx := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(non_2xx.group(1))
    return WrkResult(rps, latencies.get("50", 0.0), latencies.get("99", 0.0), errors, server_cpu_us, requests)


def median(results: list[WrkResult]) -> WrkResult:
    """The median of each figure over rounds (errors and requests: their sums)."""
    cpu = [r.server_cpu_us for r in results if r.server_cpu_us is not None]
    return WrkResult(
        statistics.median(r.requests_per_second for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.errors for r in results),
        statistics.median(cpu) if cpu else None,
        sum(r.requests for r in results),
    )
