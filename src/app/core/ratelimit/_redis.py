"""The Redis backend: one atomic EVALSHA per check, time from Redis's own clock, keys that expire by themselves.

The Lua script is the same GCRA as `_gcra.py`, in integer microseconds, over all limits of a policy set at
once: a request refused by one limit consumes nothing from the others. redis-py's `Script` sends EVALSHA and
loads the script only when Redis does not know it yet (after a restart), so a check is one round-trip.
"""

import asyncio
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.core.ratelimit._decision import BackendUnavailableError, Decision, decide
from app.core.ratelimit._gcra import Outcome
from app.core.ratelimit._policy import PolicySet

__all__ = ["RedisBackend"]

# KEYS: one per limit. ARGV: cost, now (microseconds, or "" for Redis's TIME), then emission and window per limit,
# then optionally 'peek': the verdict is computed, nothing is stored.
# Returns: {allowed, then per limit: allowed, remaining, retry_after, reset_after} (integers, microseconds).
GCRA_LUA = """
local now
if ARGV[2] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[2])
end
local cost = tonumber(ARGV[1])
local all_allowed = 1
local out = {0}
local tats = {}
for i = 1, #KEYS do
  local emission = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  local base = tonumber(redis.call('GET', KEYS[i]) or '0')
  if base < now then base = now end
  local new_tat = base + emission * cost
  local ahead = new_tat - now
  if ahead > window then
    all_allowed = 0
    tats[i] = false
    table.insert(out, 0); table.insert(out, 0); table.insert(out, ahead - window); table.insert(out, base - now)
  else
    tats[i] = new_tat
    table.insert(out, 1); table.insert(out, math.floor((window - ahead) / emission))
    table.insert(out, 0); table.insert(out, ahead)
  end
end
if all_allowed == 1 and ARGV[3 + 2 * #KEYS] ~= 'peek' then
  for i = 1, #KEYS do
    local ttl_ms = math.ceil((tats[i] - now) / 1000)
    redis.call('SET', KEYS[i], string.format('%d', tats[i]), 'PX', ttl_ms)
  end
end
out[1] = all_allowed
return out
"""


class RedisBackend:
    def __init__(
        self,
        redis: Redis,
        *,
        key_prefix: str = "forge:rl:",
        timeout_seconds: float = 0.25,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self._redis = redis
        self._script = redis.register_script(GCRA_LUA)
        self._prefix = key_prefix
        self._timeout = timeout_seconds
        self._clock = clock  # tests only: a fake clock instead of Redis's TIME

    def _keys(self, key: str, policy: PolicySet) -> list[str]:
        # The hash tag {...} keeps a client's keys in one Redis Cluster slot, as a multi-key script requires.
        base = f"{self._prefix}{policy.name}:{{{key}}}"
        if len(policy.limits) == 1:
            return [base]
        return [f"{base}#{i}" for i in range(len(policy.limits))]

    async def hit(self, key: str, policy: PolicySet, cost: int = 1) -> Decision:
        return await self._run(key, policy, cost, peek=False)

    async def peek(self, key: str, policy: PolicySet) -> Decision:
        return await self._run(key, policy, 1, peek=True)

    async def _run(self, key: str, policy: PolicySet, cost: int, *, peek: bool) -> Decision:
        args: list[Any] = [cost, "" if self._clock is None else self._clock()]
        for limit in policy.limits:
            args.extend((limit.emission_us, limit.window_us))
        if peek:
            args.append("peek")
        try:
            async with asyncio.timeout(self._timeout):
                reply = await self._script(keys=self._keys(key, policy), args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            raise BackendUnavailableError(str(exc) or type(exc).__name__) from exc
        values = [int(v) for v in reply]
        outcomes = [
            Outcome(bool(values[i]), 0, values[i + 1], values[i + 2], values[i + 3]) for i in range(1, len(values), 4)
        ]
        return decide(policy, outcomes)

    async def close(self) -> None:
        await self._redis.aclose()
