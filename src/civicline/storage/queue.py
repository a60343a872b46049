"""The job queue on Redis, with arq.

Why arq: it is asyncio-native, small, and its job ids give exactly the de-duplication the
flow needs (a job id that is queued or running cannot be queued again), so "re-queue what the
database says is unfinished" is safe to run at any time. Retries with backoff are arq's
``Retry``. Jobs are named ``<job>:<key>`` and keep no result, so a finished job can be queued
again if the database still says its work is unfinished.
"""

from __future__ import annotations

from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.exceptions import RedisError

QUEUE_NAME = "civicline:jobs"


def redis_settings(url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 1
    return settings


async def connect(url: str) -> ArqRedis:
    return await create_pool(redis_settings(url), default_queue_name=QUEUE_NAME)


def job_id(job: str, key: int) -> str:
    return f"{job}:{key}"


class ArqQueue:
    def __init__(self, redis: ArqRedis) -> None:
        self.redis = redis

    async def enqueue(self, job: str, key: int, *, defer_seconds: float = 0) -> bool:
        queued = await self.redis.enqueue_job(
            job,
            key,
            _job_id=job_id(job, key),
            _defer_by=defer_seconds or None,
            _queue_name=QUEUE_NAME,
        )
        return queued is not None


__all__ = ["QUEUE_NAME", "ArqQueue", "RedisError", "connect", "job_id", "redis_settings"]
