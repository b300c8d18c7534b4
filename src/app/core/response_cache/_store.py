"""The bounded in-process store of serialised responses.

Hand-written rather than cashews' `mem://` backend or cachetools (docs/caching.md#why-not-cashews): the store
must bound bytes as well as entries, answer a lookup without an `await`, and refuse to keep a value that was
computed while a write committed (the *ticket* of a fill), which none of them does.

An entry belongs to a namespace (one per kind of data: a feature's table, a dynamic endpoint). Invalidating a
namespace drops its entries and moves its generation on; a fill takes the generation as its ticket before reading
the data, and `put` keeps the value only if the generation has not moved since. So a read that began before a
write committed, and finished after this process learnt of the write, is served once but never stored.
"""

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

__all__ = ["ENTRY_OVERHEAD_BYTES", "RawHeaders", "ResponseStore", "StoredResponse"]

type RawHeaders = tuple[tuple[bytes, bytes], ...]

# What an entry costs beyond its bytes (the entry object, the key tuple, the dictionaries' slots), roughly; counted
# so that many tiny entries cannot exceed the byte bound by far.
ENTRY_OVERHEAD_BYTES = 256


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A 200 response as sent: its body (already encoded), its headers, and the headers and ETag of its 304 (when
    the route answers conditional requests)."""

    body: bytes
    headers: RawHeaders
    etag: str | None = None
    not_modified_headers: RawHeaders = ()

    @property
    def size(self) -> int:
        header_bytes = sum(len(name) + len(value) for name, value in (*self.headers, *self.not_modified_headers))
        return len(self.body) + header_bytes + ENTRY_OVERHEAD_BYTES


@dataclass(slots=True)
class _Entry:
    value: StoredResponse
    namespace: str
    size: int
    expires: float


class ResponseStore:
    """Least-recently-used responses, at most `max_entries` of them and `max_bytes` in all, each for at most
    `ttl_seconds`. Not thread-safe: one event loop uses it, and no method awaits."""

    def __init__(
        self,
        *,
        max_entries: int,
        max_bytes: int,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._keys_of: dict[str, set[Hashable]] = {}
        self._generations: dict[str, int] = {}
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> StoredResponse | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        if entry.expires <= self._clock():
            self._drop(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.value

    def ticket(self, namespace: str) -> int:
        """Take before reading the data a value is made of; give to `put`."""
        return self._generations.get(namespace, 0)

    def put(self, key: Hashable, value: StoredResponse, *, namespace: str, ticket: int) -> bool:
        """Keep `value` unless `namespace` was invalidated since `ticket` was taken, or it is larger than the whole
        store; whether it was kept. Least recently used entries make room."""
        size = value.size
        if ticket != self._generations.get(namespace, 0) or size > self.max_bytes:
            return False
        if key in self._entries:
            self._drop(key)
        self._entries[key] = _Entry(value, namespace, size, self._clock() + self.ttl_seconds)
        self._keys_of.setdefault(namespace, set()).add(key)
        self.bytes += size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
            self.evictions += 1
        return True

    def invalidate(self, namespace: str) -> None:
        """Forget every entry of `namespace`, and every fill of it still under way."""
        self._generations[namespace] = self._generations.get(namespace, 0) + 1
        for key in self._keys_of.pop(namespace, set()):
            self._drop(key)

    def clear(self) -> None:
        for namespace in list(self._keys_of):
            self.invalidate(namespace)

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key)
        self.bytes -= entry.size
        keys = self._keys_of.get(entry.namespace)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._keys_of[entry.namespace]
