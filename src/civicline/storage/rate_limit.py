"""A fixed-window rate limit on Redis: at most ``limit`` hits per key per window.

Hits are batched: all the keys waiting to be counted go to Redis in one pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from civicline.storage.batching import Batcher


class RateLimiter:
    def __init__(self, redis: Redis, *, limit: int, window_seconds: int, prefix: str) -> None:
        self.redis = redis
        self.limit = limit
        self.window = window_seconds
        self.prefix = prefix
        self._batcher: Batcher[str, bool] = Batcher(self._hit_many)

    async def hit(self, key: str) -> bool:
        """Count one hit; True while the key is within its limit."""
        return await self._batcher.submit(key)

    async def _hit_many(self, keys: Sequence[str]) -> list[bool]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                name = f"ratelimit:{self.prefix}:{key}"
                # SET NX starts the window with its expiry; INCR keeps the expiry.
                pipe.set(name, 0, ex=self.window, nx=True)
                pipe.incr(name)
            replies = await pipe.execute()
        return [int(count) <= self.limit for count in replies[1::2]]
