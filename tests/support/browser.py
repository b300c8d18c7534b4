"""A real headless browser (Debian's `chromium`) for tests of what a page renders, with no network but localhost."""

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import unavailable

__all__ = ["OFFLINE", "Rendered", "chromium_or_skip", "render"]

# Every host name but 127.0.0.1 fails to resolve: a page that needs a CDN renders blank instead of quietly loading it.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


@dataclass(frozen=True, slots=True)
class Rendered:
    dom: str  # the DOM after the page's scripts ran
    console: list[str]  # what the page logged: failed loads and Content-Security-Policy violations among it


def chromium_or_skip() -> str:
    """The chromium binary; without it the test skips, or fails under FORGE_REQUIRE_SERVICES=1 (CI installs it)."""
    binary = shutil.which("chromium")
    if binary:
        return binary
    return unavailable("chromium is not installed (apt-get install -y chromium)")


def render(chromium: str, url: str, *, profile: Path, budget_ms: int = 10_000) -> Rendered:
    """Load `url` offline, let its scripts run for `budget_ms` of virtual time, and return the resulting DOM."""
    result = subprocess.run(  # noqa: S603 - a fixed binary and our own arguments
        [
            chromium,
            "--headless",
            "--no-sandbox",  # tests run as root in containers, where chromium's sandbox cannot start
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",  # no update checks or other calls home that would muddy the proof
            "--enable-logging=stderr",
            f"--user-data-dir={profile}",
            OFFLINE,
            f"--virtual-time-budget={budget_ms}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return Rendered(dom=result.stdout, console=console)
