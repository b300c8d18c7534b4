"""`benchmarks.jobs` in its smallest mode: every queue (ForgeAPI's with 2 worker processes on PostgreSQL and embedded
on SQLite, procrastinate and pgqueuer with 2 each) runs every job it is given, and the checks hold: 2 worker
processes run 1,000 jobs exactly once each, and with one SIGKILLed mid-run every job still succeeds. Counts only; the
times are the benchmark's business (docs/performance.md)."""

import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.support import databases, processes

pytestmark = processes.HEAVY

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHECK_JOBS = 1000  # enough that both workers take part however the machine schedules them


def test_the_job_benchmark_runs_every_job_and_its_checks_hold() -> None:
    url = os.environ.get("FORGE_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        processes.unavailable("FORGE_TEST_DATABASE_URL names no PostgreSQL: the job benchmark compares queues on it")
    own = make_url(databases.for_worker(url, os.environ.get("PYTEST_XDIST_WORKER", "")))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORGE_")}
    command = [sys.executable, "-m", "benchmarks.jobs", "--jobs", "100", "--paced", "20", "--rate", "50"]
    command += ["--rounds", "1", "--processes", "2", "--check-jobs", str(CHECK_JOBS)]
    command += ["--postgresql", own.set(database="postgres").render_as_string(hide_password=False)]
    command += ["--database-prefix", f"{own.database}_bench"]
    result = subprocess.run(  # noqa: S603 - this interpreter, the project's own module
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    report = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, report
    rows = re.findall(
        r"^  (ForgeAPI, forge worker|procrastinate|pgqueuer|ForgeAPI, embedded \(SQLite\))\s+(\d)", report, re.M
    )
    assert sorted(rows) == sorted(
        [
            ("ForgeAPI, forge worker", "2"),
            ("procrastinate", "2"),
            ("pgqueuer", "2"),
            ("ForgeAPI, embedded (SQLite)", "1"),
        ]
    ), report
    assert f"exactly once: held: {CHECK_JOBS:,} jobs succeeded, {CHECK_JOBS:,} ran 1x" in result.stdout, report
    assert f"then {CHECK_JOBS:,} of {CHECK_JOBS:,} succeeded" in result.stdout, report
    assert "SIGKILL mid-run: held" in result.stdout, report
    assert "OK: every job ran, and every check held" in result.stdout, report
