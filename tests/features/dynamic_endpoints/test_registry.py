"""The registry's path templates, conflict rule and matching, without HTTP."""

import pytest

from app.features.dynamic_endpoints.registry import conflicts, parse_path
from tests.support.dynamic_endpoints import snapshot, spec


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/x/a", [("a", None)]),
        ("/api/v1/x/a/{id}", [("a", None), ("id", "str")]),
        ("/api/v1/x/a/{id:int}/b/{k:uuid}", [("a", None), ("id", "int"), ("b", None), ("k", "uuid")]),
    ],
)
def test_templates_parse_into_literal_and_typed_segments(path: str, expected: list[tuple[str, str | None]]) -> None:
    segments, problems = parse_path(path)
    assert problems == []
    assert [(s.value, s.param) for s in segments] == expected


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/a",
        "/api/v1/x/",
        "/api/v1/x//a",
        "/api/v1/x/{id}/{id}",
        "/api/v1/x/{Id}",
        "/api/v1/x/" + "a/" * 8 + "a",
        "/api/v1/x/../users",
        "/api/v1/x/a/./b",
        "/api/v1/x/a/..",
        "/api/v1/x/a/%2e%2e",
        "/api/v1/x/a/%2E",
    ],
)
def test_bad_templates_are_explained(path: str) -> None:
    assert parse_path(path)[1]


def test_matching_converts_parameters_and_backtracks_across_shared_prefixes() -> None:
    registry = snapshot(spec(1, "/api/v1/x/a/b/c"), spec(2, "/api/v1/x/a/{k}/d"), spec(3, "/api/v1/x/n/{id:int}"))

    found = registry.match("/api/v1/x/a/b/d")  # the literal `b` leads nowhere; `{k}` does
    assert found is not None
    assert found[0]["GET"].spec.id == 2
    assert found[0]["GET"].convert(found[1]) == {"k": "b"}
    third = registry.match("/api/v1/x/n/42")
    assert third is not None
    assert third[0]["GET"].convert(third[1]) == {"id": 42}
    assert registry.match("/api/v1/x/n/4x2") is None
    assert registry.match("/api/v1/x/a/b") is None


def test_a_collection_serves_its_path_and_its_documents() -> None:
    registry = snapshot(spec(1, "/api/v1/x/books", kind="collection"))

    listing, document = registry.match("/api/v1/x/books"), registry.match("/api/v1/x/books/7")
    assert listing is not None
    assert document is not None
    assert sorted(listing[0]) == ["GET", "POST"]
    assert listing[0]["POST"].role == "collection"
    assert sorted(document[0]) == ["DELETE", "GET", "PUT"]
    assert (document[0]["PUT"].role, document[0]["PUT"].template) == ("document", "/api/v1/x/books/{id}")


def test_conflicts_are_symmetric_and_type_aware() -> None:
    def check(a: str, b: str) -> bool:
        forward = conflicts(parse_path(a)[0], parse_path(b)[0])
        assert forward == conflicts(parse_path(b)[0], parse_path(a)[0])
        return forward

    assert check("/api/v1/x/a/{id}", "/api/v1/x/a/b")
    assert check("/api/v1/x/a/{id:int}", "/api/v1/x/a/12")
    assert not check("/api/v1/x/a/{id:int}", "/api/v1/x/a/b")
    assert not check("/api/v1/x/a/{id:int}", "/api/v1/x/a/{u:uuid}")
    assert check("/api/v1/x/a/{id:uuid}", "/api/v1/x/a/{s}")
    assert not check("/api/v1/x/a", "/api/v1/x/a/b")


def test_a_large_registry_finds_each_of_its_specs() -> None:
    specs = [spec(i, f"/api/v1/x/group{i % 7}/item{i}/{{id:int}}") for i in range(500)]
    registry = snapshot(*specs)

    for i in (0, 123, 499):
        found = registry.match(f"/api/v1/x/group{i % 7}/item{i}/5")
        assert found is not None
        assert found[0]["GET"].spec.id == i


def test_static_specs_of_different_methods_share_a_path() -> None:
    registry = snapshot(spec(1, "/api/v1/x/a/{id:int}"), spec(2, "/api/v1/x/a/{id:int}", method="POST"))

    found = registry.match("/api/v1/x/a/7")
    assert found is not None
    assert {method: leaf.spec.id for method, leaf in found[0].items()} == {"GET": 1, "POST": 2}
