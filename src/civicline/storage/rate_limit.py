"""A fixed-window rate limit on Redis: at most ``limit`` hits per key per window."""

from __future__ import annotations

from redis.asyncio import Redis


class RateLimiter:
    def __init__(self, redis: Redis, *, limit: int, window_seconds: int, prefix: str) -> None:
        self.redis = redis
        self.limit = limit
        self.window = window_seconds
        self.prefix = prefix

    async def hit(self, key: str) -> bool:
        """Count one hit; True while the key is within its limit."""
        name = f"ratelimit:{self.prefix}:{key}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, self.window, nx=True)
            count, _ = await pipe.execute()
        return int(count) <= self.limit
