"""A fixed-window rate limit on Redis: at most ``limit`` hits per key per window.

Hits are batched: all the keys waiting to be counted go to Redis in one script call (a
pipeline of SET NX + INCR per key cost twice the packing and parsing for the same work).
``count`` takes a batch made elsewhere: the web chat's hits are counted in the inbox writer's
flush (``storage/intake.py``), one call per stored batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from civicline.domain.batching import Batcher
from civicline.storage.queue import redis_unreachable

# KEYS: the counters; ARGV[1]: the window in seconds. SET NX starts a window with its expiry;
# INCR keeps the expiry. Returns each key's count in this window.
_HIT = """
local counts = {}
for i, key in ipairs(KEYS) do
  redis.call('SET', key, 0, 'EX', ARGV[1], 'NX')
  counts[i] = redis.call('INCR', key)
end
return counts
"""


class RateLimiter:
    def __init__(self, redis: Redis, *, limit: int, window_seconds: int, prefix: str) -> None:
        self.redis = redis
        self.limit = limit
        self.window = window_seconds
        self.prefix = prefix
        self._script = redis.register_script(_HIT)
        self._batcher: Batcher[str, bool] = Batcher(self.count, shared=redis_unreachable)

    async def hit(self, key: str) -> bool:
        """Count one hit; True while the key is within its limit."""
        return await self._batcher.submit(key)

    async def count(self, keys: Sequence[str]) -> list[bool]:
        """Count one hit per key in one call; True for each key within its limit."""
        names = [f"ratelimit:{self.prefix}:{key}" for key in keys]
        counts = await self._script(keys=names, args=[self.window])
        return [int(count) <= self.limit for count in counts]
