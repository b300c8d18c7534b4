"""Issue #8's load with faults, shortened for CI: `benchmarks.faults` against private PostgreSQL and Redis.

Twenty seconds of mixed traffic against `forge serve --workers 2` while PostgreSQL is stopped and started again and
Redis is stopped and started again; the script checks the guarantees (no 500, no hang, problem+json 503s, /readyz
naming the failing dependency, recovery within seconds, every acknowledged order in the database exactly once,
stock consistent) and exits non-zero, printing each violation, when one does not hold.
"""

import os
import subprocess
import sys
from pathlib import Path

from tests.support import processes, services

pytestmark = processes.HEAVY

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_the_service_survives_a_postgresql_restart_and_a_redis_outage_under_load() -> None:
    if missing := services.missing_binaries():
        processes.unavailable(f"{', '.join(missing)} not installed: the fault test starts private servers")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORGE_")}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.faults", "--seconds", "20", "--users", "6"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, report
    assert "OK: every guarantee held" in result.stdout, report
