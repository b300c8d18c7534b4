"""Orders in the admin console, in a real browser: an order placed through the API is listed with its items, and
an administrator's cancellation puts its units back into stock."""

import uuid

import httpx
from playwright.sync_api import Page, expect

from tests import helpers
from tests.support import processes
from tests.support.console_browser import ServedConsole, api_login, docs_screenshot, sign_in

pytestmark = processes.HEAVY


def _order(served_console: ServedConsole) -> tuple[int, int]:
    """A product with 10 units, and an order for 3 of them placed by a customer through the API: their ids."""
    with httpx.Client(base_url=served_console.base) as http:
        admin = api_login(http, served_console.admin)
        product = http.post(
            "/api/v1/products", json={"name": "Kettle", "price": "30.00", "quantity": 10}, headers=admin
        )
        assert product.status_code == 201, product.text
        email = helpers.unique_email("customer")
        assert http.post("/api/v1/auth/register", json={"email": email, "password": helpers.PASSWORD}).is_success
        order = http.post(
            "/api/v1/orders",
            json={"items": [{"product_id": product.json()["id"], "quantity": 3}], "shipping_address": "1 Quay St"},
            headers={**api_login(http, email), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert order.status_code == 201, order.text
    return product.json()["id"], order.json()["id"]


def _stock(served_console: ServedConsole, product_id: int) -> int:
    with httpx.Client(base_url=served_console.base) as http:
        quantity: int = http.get(f"/api/v1/products/{product_id}").json()["quantity"]
    return quantity


def test_an_order_placed_through_the_api_is_cancelled_in_the_console_and_its_stock_is_back(
    console_page: Page, served_console: ServedConsole
) -> None:
    product_id, order_id = _order(served_console)
    assert _stock(served_console, product_id) == 7
    sign_in(console_page, served_console)
    console_page.goto(f"{served_console.base}/admin/orders/list")
    row = console_page.locator("tr", has=console_page.get_by_role("cell", name=str(order_id), exact=True))
    expect(row).to_contain_text("placed", ignore_case=True)
    expect(row).not_to_contain_text("1 Quay St")  # the encrypted address: never in the list

    console_page.goto(f"{served_console.base}/admin/orders/detail?pk={order_id}")
    expect(console_page.get_by_text("3 x Kettle")).to_be_visible()
    docs_screenshot(console_page, "order")
    console_page.get_by_role("button", name="Cancel order").click()
    with console_page.expect_response(lambda response: "/row-action" in response.url) as cancelled:
        console_page.get_by_role("button", name="Yes, cancel it").click()

    assert cancelled.value.status == 200, cancelled.value.text()

    console_page.goto(f"{served_console.base}/admin/orders/detail?pk={order_id}")
    expect(console_page.locator("table")).to_contain_text("cancelled", ignore_case=True)
    assert _stock(served_console, product_id) == 10
