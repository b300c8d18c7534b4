"""Instructions per request of a served app, counted under callgrind: unlike time, the count hardly moves with the
machine's load, so it resolves differences of a few percent that the HTTP figures cannot on a shared machine."""

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from benchmarks._http import run_wrk, serve

__all__ = ["ServedCount", "dump_total", "served_instructions", "valgrind_available"]

_TOTAL = re.compile(r"^(?:totals|summary):\s+(\d+)", re.MULTILINE)


def dump_total(dump: Path) -> int | None:
    """The instructions a callgrind dump counted, or None if it holds no total."""
    total = _TOTAL.search(dump.read_text())
    return None if total is None else int(total.group(1))


def valgrind_available() -> bool:
    return shutil.which("valgrind") is not None and shutil.which("callgrind_control") is not None


@dataclass(frozen=True, slots=True)
class ServedCount:
    """What one counted run gave: instructions under load, in an idle window as long, and requests answered."""

    loaded: int
    idle: int
    requests: int

    @property
    def per_request(self) -> float:
        """The load's instructions less what the app's background loops ran meanwhile, per request."""
        return (self.loaded - self.idle) / self.requests


def served_instructions(
    app_path: str, *, server: str, path: str, seconds: int, env: Mapping[str, str] | None = None
) -> ServedCount:
    """Instructions a server (one worker) executes while wrk loads `path` for `seconds`, then idle as long.

    Counting is switched on only around the load: start-up (~20 G instructions, which vary by more than a whole
    run of requests) and shutdown are never counted. Granian's worker is a process of its own, so every process of
    the server is traced and their counts are added up. The idle window measures the app's background loops (job
    polling, purgers), which run by the clock: under valgrind a run answers only ~1,000 requests, and those loops
    would otherwise add tens of thousands of instructions to each, by how many requests the run happened to serve.
    """
    valgrind, control = shutil.which("valgrind"), shutil.which("callgrind_control")
    if valgrind is None or control is None:
        msg = "valgrind is not installed (apt-get install valgrind)"
        raise SystemExit(msg)
    with tempfile.TemporaryDirectory(prefix="forgeapi-bench-") as directory:
        wrapper = [valgrind, "-q", "--tool=callgrind", "--instr-atstart=no", "--trace-children=yes"]
        wrapper += [f"--callgrind-out-file={directory}/callgrind.%p"]
        with serve(app_path, env=env, factory=True, server=server, wrapper=wrapper, start_timeout=900) as base:
            # Few connections: under valgrind the server is ~50x slower, and wrk's 2 s timeout must not fire.
            run_wrk(f"{base}{path}", seconds=2, connections=8)  # warm-up, not counted
            # No pid: the command reaches every callgrind process, and only this benchmark starts any.
            subprocess.run([control, "--instr=on"], check=True, capture_output=True)
            result = run_wrk(f"{base}{path}", seconds=seconds, connections=8)
            subprocess.run([control, "--dump"], check=True, capture_output=True)
            time.sleep(seconds)
            subprocess.run([control, "--dump"], check=True, capture_output=True)
        if result.errors:
            raise SystemExit(f"{result.errors} errors while counting instructions of {app_path}")
        # callgrind.<pid>.<n>: the n-th dump asked for (1: the load, 2: the idle window); callgrind.<pid> is what
        # each process wrote at its exit.
        totals = {1: 0, 2: 0}
        for dump in Path(directory).iterdir():
            if (match := re.fullmatch(r"callgrind\.\d+\.(\d+)", dump.name)) is None:
                continue
            if (total := dump_total(dump)) is None or int(match.group(1)) not in totals:
                raise SystemExit(f"callgrind wrote an unexpected count for {app_path}: {dump.name}")
            totals[int(match.group(1))] += total
        if not totals[1]:
            raise SystemExit(f"callgrind wrote no instruction count for {app_path}")
        return ServedCount(totals[1], totals[2], result.requests)
