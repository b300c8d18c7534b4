"""The generated Python client against a live server (tests/features/orders/test_generated_clients.py).

`python smoke.py BASE_URL EMAIL PASSWORD PRODUCT_NAME`, next to the generated package `smoke_client`, after
`mypy --strict smoke.py`. Exits non-zero, saying why, at the first surprise.
"""

import sys

from smoke_client import AuthenticatedClient, Client
from smoke_client.api.auth import issue_token_api_v1_auth_token_post as issue_token
from smoke_client.api.auth import register_api_v1_auth_register_post as register
from smoke_client.api.dynamic import dynamic_books_collection_post as create_book
from smoke_client.api.orders import place_order_api_v1_orders_post as place_order
from smoke_client.api.products import list_products_api_v1_products_get as list_products
from smoke_client.models import (
    BodyIssueTokenApiV1AuthTokenPost,
    DynamicBooksRequest,
    OrderCreate,
    OrderItemCreate,
    OrderRead,
    PageProductRead,
    Problem,
    ProblemType,
    TokenPair,
    UserCreate,
)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"python smoke failed: {message}")


def describe(problem: Problem) -> str:
    # Typed: `problem.type` is a ProblemType, so a misspelt member fails mypy, not a run.
    if problem.type_ is ProblemType.INSUFFICIENT_STOCK:
        return f"short of stock: {problem.available} of {problem.requested}"
    if problem.type_ is ProblemType.VALIDATION_ERROR:
        return "invalid: " + ", ".join(error.pointer for error in problem.errors or [])
    return f"{problem.status} {problem.title}"


def order(client: AuthenticatedClient, product_id: int, quantity: int) -> OrderRead | Problem | None:
    body = OrderCreate(items=[OrderItemCreate(product_id=product_id, quantity=quantity)])
    return place_order.sync(client=client, body=body)


def main(base_url: str, email: str, password: str, product_name: str) -> str:
    anonymous = Client(base_url=base_url)
    registered = register.sync_detailed(client=anonymous, body=UserCreate(email=email, password=password))
    check(registered.status_code == 201, f"register: {registered.status_code}")

    login = BodyIssueTokenApiV1AuthTokenPost(username=email, password=password)
    token = issue_token.sync(client=anonymous, body=login)
    check(isinstance(token, TokenPair), f"log in: {token}")
    assert isinstance(token, TokenPair)  # for mypy, which does not follow check()
    client = AuthenticatedClient(base_url=base_url, token=token.access_token)

    products = list_products.sync(client=client, size=100)
    check(isinstance(products, PageProductRead), f"list products: {products}")
    assert isinstance(products, PageProductRead)
    product = next((item for item in products.items if item.name == product_name), None)
    check(product is not None, f"no product named {product_name}")
    assert product is not None

    placed = order(client, product.id, 1)
    check(isinstance(placed, OrderRead) and len(placed.items) == 1, f"place an order: {placed}")

    too_many = product.quantity  # one was just ordered: one more than is left
    refused = order(client, product.id, too_many)
    check(isinstance(refused, Problem), f"an order beyond the stock: {refused}")
    assert isinstance(refused, Problem)
    check(refused.status == 409 and refused.type_ is ProblemType.INSUFFICIENT_STOCK, describe(refused))
    check((refused.available, refused.requested) == (product.quantity - 1, too_many), describe(refused))

    # The endpoint registered at runtime, before the client was generated.
    created = create_book.sync_detailed(client=anonymous, body=DynamicBooksRequest(title="Dune", pages=412))
    check(created.status_code == 201, f"dynamic endpoint: {created.status_code} {created.content!r}")
    check(created.parsed is not None and created.parsed["title"] == "Dune", f"dynamic endpoint: {created.parsed}")
    invalid = create_book.sync(client=anonymous, body=DynamicBooksRequest(title=""))
    check(isinstance(invalid, Problem) and invalid.type_ is ProblemType.VALIDATION_ERROR, f"empty title: {invalid}")
    assert isinstance(invalid, Problem)
    return f"python smoke passed: {describe(refused)}; {describe(invalid)}"


if __name__ == "__main__":
    sys.stdout.write(main(*sys.argv[1:5]) + "\n")
