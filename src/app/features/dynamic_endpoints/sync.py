"""Keeping every instance's registry current.

Each instance loads the registry at start-up. A change made through an instance is installed there when its
transaction commits and announced on the Redis channel `FORGE_DYNAMIC_ENDPOINTS_CHANNEL` (`forge:endpoints`) when
`FORGE_REDIS_URL` is set; the other instances, subscribed, compare the stored version with theirs and reload when
it differs. Without Redis, each instance makes that comparison (one primary-key read) every
`FORGE_DYNAMIC_ENDPOINTS_SYNC_SECONDS`; with Redis, every `FALLBACK_SECONDS`, to catch changes announced while the
subscription was down.
"""

import structlog
from redis.asyncio import Redis

from app.config import Settings
from app.core.background import BackgroundLoops, every
from app.core.database import Database
from app.core.redis import create_redis, follow_channel
from app.features.dynamic_endpoints import service
from app.features.dynamic_endpoints.state import EndpointRuntime

__all__ = ["RegistrySync", "announce"]

FALLBACK_SECONDS = 5.0
_log = structlog.get_logger("app.dynamic_endpoints")


class RegistrySync:
    def __init__(
        self, *, runtime: EndpointRuntime, database: Database, redis: Redis | None, settings: Settings
    ) -> None:
        self.runtime = runtime
        self.database = database
        self.redis = redis
        self.settings = settings
        self._loops = BackgroundLoops()

    async def start(self) -> None:
        """Load the registry (failing start-up if the database cannot be read), then keep it current."""
        await self.refresh()
        interval = self.settings.dynamic_endpoints_sync_seconds
        if interval <= 0:
            return
        if self.redis is not None and self.settings.redis_url is not None:
            self.runtime.on_change.append(self._announce)
            self._loops.spawn(
                follow_channel(
                    self.settings,
                    self.settings.dynamic_endpoints_channel,
                    on_subscribed=self.refresh,  # whatever changed while not subscribed
                    on_message=lambda _: self.refresh(),
                    warn=_log.warning,
                    lost="endpoint_registry_subscription_lost",
                )
            )
            interval = max(interval, FALLBACK_SECONDS)
        self._loops.spawn(every(interval, self.refresh, warn=_log.warning, failed="endpoint_registry_check_failed"))

    async def stop(self) -> None:
        await self._loops.stop()

    async def refresh(self) -> bool:
        """Reload when the stored version differs from the served one; whether it did. Runs to its end even when the
        caller is cancelled (core/background.py; stop() waits for it)."""
        return await self._loops.read(self._reload())

    async def _reload(self) -> bool:
        async with self.database.session(writes=False) as session:
            return await service.load_registry(session, self.runtime, known_version=self.runtime.snapshot.version)

    def _announce(self, version: int) -> None:
        self._loops.spawn(self._publish(version))

    async def _publish(self, version: int) -> None:
        assert self.redis is not None  # noqa: S101 - only registered with Redis
        try:
            await self.redis.publish(self.settings.dynamic_endpoints_channel, str(version))
        except Exception:  # noqa: BLE001 - the others' periodic check will notice the change instead
            _log.warning("endpoint_registry_announce_failed", exc_info=True)


async def announce(settings: Settings, version: int) -> bool:
    """Tell running instances that the registry changed (for changes made outside them: `forge endpoints
    import`); whether Redis took the message. Without Redis, they notice at their next periodic check."""
    redis = create_redis(settings)
    if redis is None:
        return False
    try:
        await redis.publish(settings.dynamic_endpoints_channel, str(version))
    except Exception:  # noqa: BLE001 - the instances' periodic check will notice instead
        _log.warning("endpoint_registry_announce_failed", exc_info=True)
        return False
    finally:
        await redis.aclose()
    return True
