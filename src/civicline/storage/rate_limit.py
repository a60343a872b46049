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
            # SET NX starts the window with its expiry; INCR keeps the expiry (Redis >= 2.6).
            pipe.set(name, 0, ex=self.window, nx=True)
            pipe.incr(name)
            _, count = await pipe.execute()
        return int(count) <= self.limit
