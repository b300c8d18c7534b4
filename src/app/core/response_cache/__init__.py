"""The response cache of public reads: a bounded in-process store, invalidated by every instance's writes.

- `ResponseStore` (`_store.py`): the entries, bounded in count and bytes, with a TTL and fill tickets.
- `mark_changed` (`_versions.py`): what a service calls in a write's transaction; the namespace's version is
  bumped with the write and the app's `ResponseCache` told once it commits.
- `ResponseCache` (`_cache.py`): the store, kept in step with other instances (Redis pub/sub, and the versions read
  periodically).

The HTTP half (which requests may be served from it, the key, ETags) is `app.shared.response_cache`.
"""

from app.core.response_cache._cache import ResponseCache, following_writes
from app.core.response_cache._store import ENTRY_OVERHEAD_BYTES, RawHeaders, ResponseStore, StoredResponse
from app.core.response_cache._versions import CacheVersion, mark_changed, observing_versions, read_versions

__all__ = [
    "ENTRY_OVERHEAD_BYTES",
    "CacheVersion",
    "RawHeaders",
    "ResponseCache",
    "ResponseStore",
    "StoredResponse",
    "following_writes",
    "mark_changed",
    "observing_versions",
    "read_versions",
]
