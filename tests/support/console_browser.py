"""The admin console in a real browser: Playwright driving Debian's chromium (never a browser Playwright downloads),
against `forge serve` on a database of its own, with no network but localhost. A pytest plugin (tests/conftest.py
names it in `pytest_plugins`): the served console, a signed-out page per test, and a screenshot of every browser test
that fails, under var/test-screenshots/.

Without chromium the tests skip, or fail under FORGE_REQUIRE_SERVICES=1 (.ci/run installs it).
"""

import os
import re
import subprocess
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests import helpers
from tests.support import browser, processes, services

__all__ = [
    "SCREENSHOTS",
    "ServedConsole",
    "api_login",
    "console_page",
    "docs_screenshot",
    "served_console",
    "sign_in",
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "test-screenshots"
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
_REPORT = pytest.StashKey[pytest.TestReport]()


@dataclass(frozen=True, slots=True)
class ServedConsole:
    base: str  # http://127.0.0.1:<port>
    admin: str  # an administrator's e-mail address (its password: helpers.PASSWORD)
    env: dict[str, str]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each test's outcome on it, for the page fixture to see whether the test failed."""
    report = yield
    if report.when == "call" or report.failed:
        item.stash[_REPORT] = report
    return report


@pytest.fixture(scope="session")
def served_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedConsole]:
    """`forge serve` (development: its cookie not Secure, over plain http on localhost) with an administrator."""
    directory = tmp_path_factory.mktemp("console")
    env = {
        "FORGE_DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'console.db'}",
        # Generous limits: every test signs in, and every request comes from 127.0.0.1.
        "FORGE_RATE_LIMIT_DEFAULT": "100000/minute",
        "FORGE_RATE_LIMIT_LOGIN": "100000/minute",
        "FORGE_RATE_LIMIT_LOGIN_ACCOUNT": "100000/minute",
        "FORGE_RATE_LIMIT_REGISTER": "100000/minute",
        "FORGE_PASSWORD_HASH_MEMORY_KIB": "1024",
        "FORGE_PASSWORD_HASH_ITERATIONS": "1",
    }
    # The server's output goes to a file: a pipe nobody reads fills up with access-log lines and stalls the server.
    with services.forge_process(env, cwd=directory, output=directory / "server.log") as (_, base):
        admin = helpers.unique_email("console-admin")
        created = subprocess.run(  # noqa: S603 - our own console script
            [str(processes.FORGE), "users", "create-admin", "--email", admin],
            input=f"{helpers.PASSWORD}\n",
            cwd=directory,
            env={**_without_forge(), **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert created.returncode == 0, created.stdout + created.stderr
        yield ServedConsole(base=base, admin=admin, env=env)


def _without_forge() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FORGE_")}


# Per module, not per session: Playwright's sync API leaves its event loop set as the thread's running loop for as long
# as it is started, so every later test that calls asyncio.run (an async client's, the MCP server's) would fail.
# Browser tests live in modules of their own, each starting it once.
@pytest.fixture(scope="module")
def _playwright() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def chromium_browser(_playwright: Playwright) -> Iterator[Browser]:
    executable = browser.chromium_or_skip()
    launched = _playwright.chromium.launch(executable_path=executable, args=["--no-sandbox", browser.OFFLINE])
    yield launched
    launched.close()


@pytest.fixture
def console_page(chromium_browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context's page (no cookies); screenshotted to SCREENSHOTS if the test fails."""
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    report = request.node.stash.get(_REPORT, None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    context.close()


def docs_screenshot(page: Page, name: str) -> None:
    """With FORGE_TEST_DOCS_SCREENSHOTS=1, keep the page as docs/admin.md's picture `admin-<name>.png`."""
    if os.environ.get("FORGE_TEST_DOCS_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMAGES / f"admin-{name}.png"))


def sign_in(page: Page, console: ServedConsole, email: str | None = None, password: str = helpers.PASSWORD) -> None:
    """Sign in through the console's sign-in page, as a person does."""
    page.goto(f"{console.base}/admin/")
    page.fill("#email", email or console.admin)
    page.fill("#password", password)
    page.click("form.card button[type=submit]")
    page.wait_for_load_state()


def api_login(http: httpx.Client, email: str) -> helpers.Headers:
    """A bearer token for `email`, from the API's login."""
    token = http.post("/api/v1/auth/token", data={"username": email, "password": helpers.PASSWORD})
    assert token.status_code == 200, token.text
    return helpers.bearer(token.json()["access_token"])
