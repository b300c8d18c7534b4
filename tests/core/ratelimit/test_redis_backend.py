"""What only the Redis backend promises: one round-trip, Redis's clock, self-expiring keys, clean failures."""

import socket

import pytest
from redis.asyncio import Redis

from app.core.ratelimit import BackendUnavailableError, Limit, PolicySet, RedisBackend

POLICY = PolicySet("default", (Limit(100, 60),))


async def _evalsha_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_one_evalsha_round_trip_per_check(redis: Redis, key_prefix: str) -> None:
    backend = RedisBackend(redis, key_prefix=key_prefix)
    await backend.hit("ip:192.0.2.1", POLICY)  # may load the script (once, ever, per Redis)
    monitor_before = await _evalsha_calls(redis)
    for _ in range(20):
        await backend.hit("ip:192.0.2.1", POLICY)
    assert await _evalsha_calls(redis) - monitor_before == 20


async def test_time_comes_from_redis_and_keys_expire_by_themselves(redis: Redis, key_prefix: str) -> None:
    backend = RedisBackend(redis, key_prefix=key_prefix)  # no clock: Redis's TIME
    decision = await backend.hit("ip:192.0.2.1", POLICY)
    assert decision.allowed
    assert decision.remaining == 99
    keys = [key async for key in redis.scan_iter(match=f"{key_prefix}*")]
    assert len(keys) == 1
    ttl_ms = await redis.pttl(keys[0])
    assert 0 < ttl_ms <= 600  # one request's worth of a 100-per-minute allowance


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_an_unreachable_redis_is_a_prompt_backend_error_not_a_hang() -> None:
    dead = Redis.from_url(f"redis://127.0.0.1:{_closed_port()}/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    backend = RedisBackend(dead, timeout_seconds=0.5)
    with pytest.raises(BackendUnavailableError):
        await backend.hit("ip:192.0.2.1", POLICY)
    await backend.close()
