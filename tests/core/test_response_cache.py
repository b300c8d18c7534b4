"""The response cache's store: bounded in entries and bytes, entries expire, and a fill that a write overtook is
never kept (the rest is tested through the API: tests/features/products/test_product_response_cache.py)."""

from app.core.response_cache import ENTRY_OVERHEAD_BYTES, ResponseStore, StoredResponse
from app.core.response_cache._cache import _parse  # the message format, private to the module

HEADERS = ((b"content-type", b"application/json"),)


def response(body: bytes = b"{}") -> StoredResponse:
    return StoredResponse(body=body, headers=HEADERS)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def store(*, max_entries: int = 100, max_bytes: int = 1_000_000, clock: Clock | None = None) -> ResponseStore:
    return ResponseStore(max_entries=max_entries, max_bytes=max_bytes, ttl_seconds=60, clock=clock or Clock())


def test_a_stored_response_is_served_until_its_namespace_is_invalidated() -> None:
    cache = store()
    assert cache.put("a", response(b"1"), namespace="things", ticket=cache.ticket("things"))
    assert cache.put("b", response(b"2"), namespace="others", ticket=cache.ticket("others"))

    assert cache.get("a") == response(b"1")
    cache.invalidate("things")

    assert cache.get("a") is None
    assert cache.get("b") == response(b"2")
    assert (cache.hits, cache.misses) == (2, 1)


def test_the_least_recently_used_entry_makes_room_when_the_entries_are_full() -> None:
    cache = store(max_entries=2)
    for key in ("a", "b"):
        cache.put(key, response(), namespace="n", ticket=cache.ticket("n"))
    cache.get("a")  # b is now the least recently used

    cache.put("c", response(), namespace="n", ticket=cache.ticket("n"))

    assert len(cache) == 2
    assert cache.evictions == 1
    assert cache.get("b") is None
    assert cache.get("a") is not None
    assert cache.get("c") is not None


def test_the_bytes_are_bounded_and_a_response_larger_than_the_store_is_never_kept() -> None:
    body = b"x" * 1000
    size = response(body).size
    assert size == len(body) + len(b"content-type") + len(b"application/json") + ENTRY_OVERHEAD_BYTES
    cache = store(max_bytes=2 * size + size // 2)

    for key in ("a", "b", "c"):
        assert cache.put(key, response(body), namespace="n", ticket=cache.ticket("n"))

    assert len(cache) == 2
    assert cache.bytes == 2 * size
    assert cache.get("a") is None
    assert not cache.put("huge", response(b"x" * 3 * size), namespace="n", ticket=cache.ticket("n"))
    assert cache.get("huge") is None


def test_a_fill_that_began_before_an_invalidation_is_not_kept() -> None:
    cache = store()
    ticket = cache.ticket("products")  # a read begins...
    cache.invalidate("products")  # ...a write commits meanwhile...

    assert not cache.put("page", response(b"old"), namespace="products", ticket=ticket)  # ...its answer is not kept
    assert cache.get("page") is None
    assert cache.put("page", response(b"new"), namespace="products", ticket=cache.ticket("products"))


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache = store(clock=clock)
    cache.put("a", response(), namespace="n", ticket=cache.ticket("n"))

    clock.now = 59.9
    assert cache.get("a") is not None
    clock.now = 60.0
    assert cache.get("a") is None
    assert len(cache) == 0
    assert cache.bytes == 0


def test_replacing_an_entry_counts_its_bytes_once() -> None:
    cache = store()
    cache.put("a", response(b"12345"), namespace="n", ticket=cache.ticket("n"))
    cache.put("a", response(b"1"), namespace="n", ticket=cache.ticket("n"))

    assert len(cache) == 1
    assert cache.bytes == response(b"1").size


def test_an_announcement_names_namespaces_and_versions_and_malformed_items_are_ignored() -> None:
    assert _parse(b"products=7 x:books=2") == {"products": 7, "x:books": 2}
    assert _parse("products=seven =3 junk products=8") == {"products": 8}
