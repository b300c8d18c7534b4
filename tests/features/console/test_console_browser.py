"""The admin console in a real browser (Playwright driving Debian's chromium, offline): an administrator signs in and
sees the dashboard's charts, drawn by the locally served ApexCharts; anyone else is refused; a form posted without
its CSRF token is refused."""

import httpx
from playwright.sync_api import Page, expect

from tests import helpers
from tests.support import processes
from tests.support.console_browser import ServedConsole, docs_screenshot, sign_in

pytestmark = processes.HEAVY


def test_an_administrator_signs_in_and_the_dashboard_draws_its_charts(
    console_page: Page, served_console: ServedConsole
) -> None:
    console_page.goto(f"{served_console.base}/admin/")
    expect(console_page.locator("#email")).to_be_visible()  # the sign-in page, first
    docs_screenshot(console_page, "sign-in")

    sign_in(console_page, served_console)

    expect(console_page).to_have_url(f"{served_console.base}/admin/")
    expect(console_page.get_by_role("link", name="Open user menu")).to_be_visible()
    # ApexCharts drew each chart as an SVG: the script loaded (from the service, under its CSP) and ran.
    expect(console_page.locator(".apexcharts-canvas svg").first).to_be_visible()
    expect(console_page.locator(".apexcharts-bar-area").first).to_be_attached()
    docs_screenshot(console_page, "dashboard")


def test_a_user_who_is_no_administrator_is_refused(console_page: Page, served_console: ServedConsole) -> None:
    with httpx.Client(base_url=served_console.base) as http:
        email = helpers.unique_email("browser-user")
        registered = http.post("/api/v1/auth/register", json={"email": email, "password": helpers.PASSWORD})
        assert registered.status_code == 201, registered.text

    sign_in(console_page, served_console, email)

    expect(console_page.get_by_text("The console is for administrators: this account is not one.")).to_be_visible()
    console_page.goto(f"{served_console.base}/admin/")
    expect(console_page.locator("#email")).to_be_visible()  # still the sign-in page


def test_a_form_posted_without_its_csrf_token_is_refused(console_page: Page, served_console: ServedConsole) -> None:
    sign_in(console_page, served_console)
    expect(console_page.get_by_role("link", name="Open user menu")).to_be_visible()
    logout = console_page.locator("form[action$='/admin/logout']").first

    logout.evaluate("form => { form.querySelector('input[name=csrftoken]').remove(); form.submit(); }")

    expect(console_page.get_by_text("CSRF token missing")).to_be_visible()
    console_page.goto(f"{served_console.base}/admin/")
    expect(console_page.get_by_role("link", name="Open user menu")).to_be_visible()  # still signed in: nothing was done
