"""The insufficient-stock error lives with products, and documents its own problem members through core's schema."""

from app.features.products.service import InsufficientStockError
from app.main import create_app
from tests.support.settings import make_settings


def test_the_problem_schema_documents_the_members_products_declare() -> None:
    document = create_app(make_settings("sqlite+aiosqlite:///unused.db")).openapi()
    properties = document["components"]["schemas"]["Problem"]["properties"]
    for name, field in InsufficientStockError.problem_fields.items():
        assert properties[name]["description"] == field.description
        assert {"type": "integer"} in properties[name]["anyOf"]


def test_the_error_carries_its_members_and_says_what_is_short() -> None:
    error = InsufficientStockError(7, requested=3, available=2)
    assert (error.status, error.slug) == (409, "insufficient-stock")
    assert error.extensions == {"product_id": 7, "requested": 3, "available": 2}
    assert error.detail == "Product 7 has 2 unit(s) in stock; the order asks for 3."
