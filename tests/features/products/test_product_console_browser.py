"""Products in the admin console, in a real browser: a price the API refuses is refused with the API's words, and
the corrected one is saved."""

import httpx
from playwright.sync_api import Page, expect

from tests.support import processes
from tests.support.console_browser import ServedConsole, api_login, docs_screenshot, sign_in

pytestmark = processes.HEAVY


def test_an_invalid_price_shows_the_apis_error_and_the_fixed_one_is_saved(
    console_page: Page, served_console: ServedConsole
) -> None:
    with httpx.Client(base_url=served_console.base) as http:
        admin = api_login(http, served_console.admin)
        api = http.post("/api/v1/products", json={"name": "Teapot", "price": "19.999", "quantity": 5}, headers=admin)
    [error] = api.json()["errors"]
    sign_in(console_page, served_console)
    console_page.goto(f"{served_console.base}/admin/products/create")
    console_page.fill("input[name=name]", "Browser teapot")
    console_page.fill("input[name=price]", "19.999")
    console_page.fill("input[name=quantity]", "5")

    console_page.locator(".card-footer button[type=submit]:not([name])").click()

    expect(console_page.locator(".invalid-feedback")).to_have_text(error["detail"])
    docs_screenshot(console_page, "product-refused")
    console_page.fill("input[name=price]", "19.99")
    console_page.locator(".card-footer button[type=submit]:not([name])").click()
    expect(console_page).to_have_url(f"{served_console.base}/admin/products/list")
    expect(console_page.get_by_role("cell", name="Browser teapot")).to_be_visible()
    docs_screenshot(console_page, "products")
    with httpx.Client(base_url=served_console.base) as http:
        [product] = http.get("/api/v1/products", params={"q": "Browser teapot"}).json()["items"]
    assert (product["price"], product["quantity"]) == ("19.99", 5)
