from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Column, Integer, MetaData, Table, select

from app.core.database import UTCDateTime
from app.core.exceptions import InvalidInputError
from app.core.opaque_tokens import SecretHasher
from app.core.pagination import (
    DEFAULT_PAGE_SIZE,
    CursorSeal,
    InvalidCursorError,
    Keyset,
    KeyValue,
    Page,
    PageParams,
    listing_of,
    page_params_of,
)


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


# A listing's table of its own: core's tests name no feature.
ENTRY = Table("entry", MetaData(), Column("id", Integer, primary_key=True), Column("created_at", UTCDateTime()))
HASHER = SecretHasher("a test pepper that is long enough for its purpose")
LAMPS = listing_of("/api/v1/entries", [("q", "lamp"), ("size", "5")])


def test_a_cursor_opens_to_the_position_it_was_sealed_with() -> None:
    seal = CursorSeal(HASHER, LAMPS)
    moment = datetime(2026, 12, 9, 8, 30, 1, 250, tzinfo=UTC)

    assert seal.open(seal.seal([41])) == (41,)
    assert seal.open(seal.seal([moment.isoformat(), 7])) == (moment.isoformat(), 7)


def test_the_listing_is_the_path_and_the_filters_in_any_order_without_the_page_parameters() -> None:
    assert listing_of("/p", [("b", "2"), ("a", "1"), ("cursor", "c"), ("size", "3")]) == listing_of(
        "/p", [("page", "9"), ("a", "1"), ("include_total", "false"), ("b", "2")]
    )
    assert listing_of("/p", [("a", "1")]) != listing_of("/p", [("a", "2")])
    assert listing_of("/p", [("a", "1")]) != listing_of("/q", [("a", "1")])
    assert listing_of("/p", [("a", "1&b=2")]) != listing_of("/p", [("a", "1"), ("b", "2")])


def _flip(text: str, at: int) -> str:
    return text[:at] + ("B" if text[at] == "A" else "A") + text[at + 1 :]


@pytest.mark.parametrize(
    "alter",
    [
        pytest.param(lambda c: _flip(c, 0), id="position"),
        pytest.param(lambda c: _flip(c, len(c) - 1), id="tag"),
        pytest.param(lambda c: c.partition(".")[0], id="no tag"),
        pytest.param(lambda c: "WzQxXQ." + c.partition(".")[2], id="another position with this tag"),
        pytest.param(lambda c: c + "0", id="longer tag"),
        pytest.param(lambda _: "made-up", id="made up"),
        pytest.param(lambda c: c.replace(".", ".é"), id="not ascii"),
    ],
)
def test_an_altered_cursor_is_refused(alter: Callable[[str], str]) -> None:
    seal = CursorSeal(HASHER, LAMPS)

    with pytest.raises(InvalidCursorError) as raised:
        seal.open(alter(seal.seal([42])))

    assert raised.value.status == 422
    assert [(e.location, e.pointer, e.code) for e in raised.value.errors] == [("query", "#/cursor", "invalid_cursor")]


def test_a_cursor_is_refused_by_another_listing_and_under_another_key() -> None:
    cursor = CursorSeal(HASHER, LAMPS).seal([42])
    elsewhere = listing_of("/api/v1/entries", [("q", "lamps")])

    with pytest.raises(InvalidCursorError):
        CursorSeal(HASHER, elsewhere).open(cursor)
    with pytest.raises(InvalidCursorError):
        CursorSeal(SecretHasher("another pepper, as long as the first one is"), LAMPS).open(cursor)


def test_a_cursor_with_a_page_is_refused_but_with_another_size_is_not() -> None:
    seal = CursorSeal(HASHER, LAMPS)
    cursor = seal.seal([42])

    with pytest.raises(InvalidInputError) as raised:
        page_params_of({"page": "1", "cursor": cursor}, seal)
    assert [e.pointer for e in raised.value.errors] == ["#/page"]

    params = page_params_of({"cursor": cursor, "size": "7", "include_total": "false"}, seal)
    assert (params.page, params.size, params.after, params.include_total) == (None, 7, (42,), False)


def test_a_listing_without_cursors_refuses_one() -> None:
    with pytest.raises(InvalidCursorError):
        page_params_of({"cursor": CursorSeal(HASHER, LAMPS).seal([1])})


def test_split_keeps_the_page_and_names_the_next_one_only_when_a_row_is_left() -> None:
    seal = CursorSeal(HASHER, LAMPS)
    params = PageParams(size=2, seal=seal)
    by_id = Keyset(ENTRY.c.id)
    rows = [SimpleNamespace(id=i) for i in (3, 5, 8)]

    shown, cursor = by_id.split(rows, params)
    assert [r.id for r in shown] == [3, 5]
    assert cursor is not None
    assert seal.open(cursor) == (5,)
    assert by_id.split(rows[:2], params) == (rows[:2], None)


def test_a_cursor_whose_values_do_not_fit_the_order_is_refused() -> None:
    """A cursor the app signed for an order that has since changed (another number or type of columns)."""
    seal = CursorSeal(HASHER, LAMPS)
    statement = select(ENTRY)
    positions: list[list[KeyValue]] = [["2026-12-09T00:00:00+00:00"], [1, 2], [], ["not a time", 3], ["2026-12-09", 3]]
    for position in positions:
        params = page_params_of({"cursor": seal.seal(position)}, seal)
        order = Keyset(ENTRY.c.id) if len(position) != 2 else Keyset(ENTRY.c.created_at, ENTRY.c.id)
        with pytest.raises(InvalidCursorError):
            order.page(statement, params)


def test_a_page_without_its_total_has_no_pages_either() -> None:
    page = Page[int].build([1], total=None, params=PageParams(page=None, size=1), next_cursor="c")

    assert (page.total, page.pages, page.page, page.next_cursor) == (None, None, None, "c")
