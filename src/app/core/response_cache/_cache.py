"""The app's response cache: the store, and keeping it in step with the writes of every instance.

Three paths carry a committed write to the cached reads (docs/operations.md#the-response-cache):
1. the instance that wrote drops the namespace when its COMMIT returns, before it answers the write;
2. with `FORGE_REDIS_URL`, it publishes `namespace version` on `FORGE_CACHE_CHANNEL`, and every other instance,
   subscribed, drops the namespace on receipt (a few milliseconds);
3. every instance reads the committed versions every `FORGE_CACHE_SYNC_SECONDS` and drops the namespaces whose
   version moved past the one it knows: a lost message (Redis restarting, a subscription re-established) or a
   deployment without Redis is behind by at most that long.
Entries also expire after `FORGE_CACHE_TTL_SECONDS`, whatever happens.
"""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import structlog
from redis.asyncio import Redis

from app.config import Settings
from app.core.background import BackgroundLoops, every
from app.core.database import Database
from app.core.redis import follow_channel
from app.core.response_cache._store import ResponseStore
from app.core.response_cache._versions import read_versions
from app.core.tracing import untraced

__all__ = ["ResponseCache", "following_writes"]

_log = structlog.get_logger("app.cache")


class ResponseCache:
    def __init__(self, settings: Settings, *, redis: Redis | None = None) -> None:
        self.settings = settings
        self.store = ResponseStore(
            max_entries=settings.cache_max_entries,
            max_bytes=settings.cache_max_bytes,
            ttl_seconds=settings.cache_ttl_seconds,
        )
        self.database: Database | None = None
        self.redis = redis
        self._known: dict[str, int] = {}
        self._loops = BackgroundLoops()

    @classmethod
    def configured(cls, settings: Settings, redis: Redis | None) -> "ResponseCache | None":
        """The app's cache, unless `FORGE_CACHE_ENABLED` is off."""
        return cls(settings, redis=redis) if settings.cache_enabled else None

    def observe(self, versions: Mapping[str, int]) -> None:
        """Drop every namespace whose version is newer than the one this instance knows."""
        for namespace, version in versions.items():
            if version > self._known.get(namespace, 0):
                self._known[namespace] = version
                self.store.invalidate(namespace)

    def committed(self, versions: Mapping[str, int]) -> None:
        """A write of this instance committed (`mark_changed`'s observer): drop now, then tell the others."""
        self.observe(versions)
        if self.redis is not None:
            message = " ".join(f"{namespace}={version}" for namespace, version in versions.items())
            self._loops.spawn(self._publish(message))

    async def start(self, database: Database) -> None:
        """Learn the committed versions, then follow them."""
        self.database = database
        await self.refresh()
        if self.redis is not None and self.settings.redis_url is not None:
            self._loops.spawn(
                follow_channel(
                    self.settings,
                    self.settings.cache_channel,
                    on_subscribed=self.refresh,  # whatever was written while not subscribed
                    on_message=self._received,
                    warn=_log.warning,
                    lost="cache_subscription_lost",
                )
            )
        self._loops.spawn(
            every(
                self.settings.cache_sync_seconds, self.refresh, warn=_log.warning, failed="cache_versions_check_failed"
            )
        )

    async def stop(self) -> None:
        await self._loops.stop()

    async def refresh(self) -> None:
        """Read the committed versions and drop what they outdate. The read runs to its end even when the caller is
        cancelled (core/background.py; stop() waits for it)."""
        if self.database is None:
            return
        self.observe(await self._loops.read(self._read_versions(self.database)))

    async def _received(self, data: bytes | str) -> None:
        self.observe(_parse(data))

    @staticmethod
    async def _read_versions(database: Database) -> dict[str, int]:
        with untraced():  # a background read, no request's: its query would be a stray root span
            async with database.session(writes=False) as session:
                return await read_versions(session)

    async def _publish(self, message: str) -> None:
        assert self.redis is not None  # noqa: S101 - only spawned with Redis
        try:
            await self.redis.publish(self.settings.cache_channel, message)
        except Exception:  # noqa: BLE001 - the others' periodic read of the versions catches the write instead
            _log.warning("cache_announce_failed", exc_info=True)


@asynccontextmanager
async def following_writes(cache: ResponseCache | None, database: Database) -> AsyncIterator[None]:
    """Keep `cache` in step with every instance's writes while the block runs (the app's lifespan)."""
    if cache is None:
        yield
        return
    await cache.start(database)
    try:
        yield
    finally:
        await cache.stop()


def _parse(data: bytes | str) -> dict[str, int]:
    """`namespace=version ...`; anything malformed is ignored (the periodic read still catches the write)."""
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    versions: dict[str, int] = {}
    for item in text.split():
        namespace, _, version = item.rpartition("=")
        if namespace and version.isdigit():
            versions[namespace] = int(version)
    return versions
