import pytest
from fastapi.exceptions import RequestValidationError

from app.core.pagination import DEFAULT_PAGE_SIZE, Page, PageParams, page_params_of


@pytest.mark.parametrize(
    ("total", "size", "pages"),
    [(0, 20, 0), (1, 20, 1), (20, 20, 1), (21, 20, 2), (10_000, 100, 100)],
)
def test_pages_is_the_ceiling_of_total_over_size(total: int, size: int, pages: int) -> None:
    params = PageParams(page=1, size=size)
    assert params.pages_for(total) == pages
    assert Page[int].build([], total=total, params=params).pages == pages


def test_offset_skips_the_earlier_pages() -> None:
    assert PageParams(page=1, size=20).offset == 0
    assert PageParams(page=3, size=25).offset == 50


def test_page_is_generic_in_openapi_names() -> None:
    assert Page[int].model_json_schema()["properties"]["items"] == {
        "items": {"type": "integer"},
        "title": "Items",
        "type": "array",
    }


def test_a_query_string_without_a_page_asks_for_the_first_default_sized_one() -> None:
    assert page_params_of({}) == PageParams(page=1, size=DEFAULT_PAGE_SIZE)
    assert page_params_of({"page": "3", "size": "5", "q": "other parameters are the route's"}).offset == 10


def test_a_bad_page_is_a_request_validation_error_in_the_query() -> None:
    with pytest.raises(RequestValidationError) as raised:
        page_params_of({"page": "0", "size": "x"})

    assert [(e["loc"], e["type"]) for e in raised.value.errors()] == [
        (("query", "page"), "greater_than_equal"),
        (("query", "size"), "int_parsing"),
    ]
