import pytest

from app.core.pagination import Page, PageParams


@pytest.mark.parametrize(
    ("total", "size", "pages"),
    [(0, 20, 0), (1, 20, 1), (20, 20, 1), (21, 20, 2), (10_000, 100, 100)],
)
def test_pages_is_the_ceiling_of_total_over_size(total: int, size: int, pages: int) -> None:
    page = Page[int].build([], total=total, params=PageParams(page=1, size=size))
    assert page.pages == pages


def test_offset_skips_the_earlier_pages() -> None:
    assert PageParams(page=1, size=20).offset == 0
    assert PageParams(page=3, size=25).offset == 50


def test_page_is_generic_in_openapi_names() -> None:
    assert Page[int].model_json_schema()["properties"]["items"] == {
        "items": {"type": "integer"},
        "title": "Items",
        "type": "array",
    }
