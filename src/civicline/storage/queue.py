"""The job queue on Redis, with arq.

Why arq: it is asyncio-native, small, and its job ids give exactly the de-duplication the
flow needs (a job id that is queued or running cannot be queued again), so "re-queue what the
database says is unfinished" is safe to run at any time. Retries with backoff are arq's
``Retry``. Jobs are named ``<job>:<key>`` and keep no result, so a finished job can be queued
again if the database still says its work is unfinished.

Enqueueing is batched: arq's own ``enqueue_job`` costs three round trips a job (WATCH, check,
MULTI/EXEC); here every job waiting to be queued goes in one script call that does the same
check-and-set per job, writing arq's own job format, so arq's worker runs them unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import (
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.exceptions import ConnectionError as RedisDown
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeout

from civicline.domain.batching import Batcher, unreachable
from civicline.storage.base import JobQueue

log = logging.getLogger(__name__)

QUEUE_NAME = "civicline:jobs"
# The jobs: one stored inbound message to process, one outbox row to deliver.
PROCESS_INBOUND = "process_inbound"
DELIVER_OUTBOUND = "deliver_outbound"
# Jobs queued "ahead" are scored this much earlier, so workers take them before the backlog:
# an acknowledgement should not wait behind every complaint that arrived before it.
AHEAD_MS = 10 * 60 * 1000
JOB_EXPIRY_MS = 24 * 3600 * 1000

# ARGV: queue name, then (job id, serialized job, score, expiry ms) per job.
# Queues a job unless it is already queued or running (its job key exists) or has a result.
_ENQUEUE = """
local queued = {}
for i = 2, #ARGV, 4 do
  local id = ARGV[i]
  if redis.call('EXISTS', KEYS[1] .. id, KEYS[2] .. id) == 0 then
    redis.call('SET', KEYS[1] .. id, ARGV[i + 1], 'PX', ARGV[i + 3])
    redis.call('ZADD', ARGV[1], ARGV[i + 2], id)
    queued[#queued + 1] = 1
  else
    queued[#queued + 1] = 0
  end
end
return queued
"""


# KEYS: arq's in-progress, job and retry key prefixes. ARGV: queue name, now (ms), in-progress
# mark's life (ms), then job ids. Per id: 1 claimed (due, queued, not in progress, never tried:
# marked in progress as arq's worker marks a job it starts, its first try counted), 0 not to
# run now (in progress elsewhere, not due, no longer queued), -1 left to arq (tried before, or
# its job expired: arq counts its tries and fails it as it does any job).
_CLAIM = """
local claimed = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local score = redis.call('ZSCORE', ARGV[1], id)
  if not score or tonumber(score) > tonumber(ARGV[2])
      or redis.call('EXISTS', KEYS[1] .. id) == 1 then
    claimed[#claimed + 1] = 0
  elseif redis.call('EXISTS', KEYS[3] .. id) == 1 or redis.call('EXISTS', KEYS[2] .. id) == 0 then
    claimed[#claimed + 1] = -1
  else
    redis.call('SET', KEYS[1] .. id, '1', 'PX', ARGV[3])
    redis.call('SET', KEYS[3] .. id, '1', 'EX', 88400)
    claimed[#claimed + 1] = 1
  end
end
return claimed
"""
# KEYS: as above. ARGV: queue name, then job ids: done, as arq's worker ends a job that kept
# no result.
_FINISH = """
for i = 2, #ARGV do
  local id = ARGV[i]
  redis.call('DEL', KEYS[1] .. id, KEYS[2] .. id, KEYS[3] .. id)
  redis.call('ZREM', ARGV[1], id)
end
return #ARGV - 1
"""
# KEYS: as above. ARGV: queue name, the score to run again at (ms, 0: as queued), then job ids:
# given back, as arq's worker gives back a job cancelled or to retry (its try stays counted).
_RELEASE = """
for i = 3, #ARGV do
  local id = ARGV[i]
  redis.call('DEL', KEYS[1] .. id)
  if tonumber(ARGV[2]) > 0 then
    redis.call('ZADD', ARGV[1], 'XX', ARGV[2], id)
  end
end
return #ARGV - 2
"""
_JOB_KEYS = [in_progress_key_prefix, job_key_prefix, retry_key_prefix]


def redis_unreachable(exc: BaseException) -> bool:
    """Redis could not be reached: no item of a batch is to blame."""
    return unreachable(exc) or isinstance(exc, (RedisDown, RedisTimeout))


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
        self._script = redis.register_script(_ENQUEUE)
        self._batcher: Batcher[tuple[str, int, float, bool], bool] = Batcher(
            self._enqueue_many, shared=redis_unreachable
        )

    async def enqueue(
        self, job: str, key: int, *, defer_seconds: float = 0, ahead: bool = False
    ) -> bool:
        return await self._batcher.submit((job, key, defer_seconds, ahead))

    async def _enqueue_many(self, jobs: Sequence[tuple[str, int, float, bool]]) -> list[bool]:
        now = timestamp_ms()
        argv: list[str | bytes | int] = [QUEUE_NAME]
        for job, key, defer, ahead in jobs:
            delay = int(defer * 1000)
            score = now + delay - (AHEAD_MS if ahead and not delay else 0)
            payload = serialize_job(job, (key,), {}, None, now)
            argv += [job_id(job, key), payload, score, delay + JOB_EXPIRY_MS]
        queued = await self._script(keys=[job_key_prefix, result_key_prefix], args=argv)
        return [bool(flag) for flag in queued]


class Claims:
    """Jobs of one kind taken from arq's queue by the batch, one round trip to claim a batch
    and one to finish it, instead of arq's seven or so a job. A claimed job is marked in
    progress exactly as arq's worker marks a job it runs: if the worker dies, the mark
    expires and any worker runs the job again (arq's way, which counts its tries)."""

    def __init__(self, redis: ArqRedis, job: str) -> None:
        self.prefix = f"{job}:"
        self._claim = redis.register_script(_CLAIM)
        self._finish = redis.register_script(_FINISH)
        self._release = redis.register_script(_RELEASE)

    def key_of(self, job_id: str) -> int:
        return int(job_id.removeprefix(self.prefix))

    async def claim(self, job_ids: Sequence[str], *, hold_ms: int) -> tuple[list[str], list[str]]:
        """Those of ``job_ids`` claimed, and those left to arq's worker (tried before)."""
        if not job_ids:
            return [], []
        verdicts = await self._claim(
            keys=_JOB_KEYS, args=[QUEUE_NAME, timestamp_ms(), hold_ms, *job_ids]
        )
        claimed = [j for j, v in zip(job_ids, verdicts, strict=True) if int(v) == 1]
        left = [j for j, v in zip(job_ids, verdicts, strict=True) if int(v) == -1]
        return claimed, left

    async def finish(self, job_ids: Sequence[str]) -> None:
        if job_ids:
            await self._finish(keys=_JOB_KEYS, args=[QUEUE_NAME, *job_ids])

    async def release(self, job_ids: Sequence[str], *, defer_seconds: float = 0) -> None:
        if job_ids:
            at = timestamp_ms() + int(defer_seconds * 1000) if defer_seconds else 0
            await self._release(keys=_JOB_KEYS, args=[QUEUE_NAME, at, *job_ids])


async def queue_inbound(queue: JobQueue, inbound_id: int) -> bool:
    """Queue a stored message's processing. False when Redis is away: stored is enough, the
    sweeper queues it once Redis is back."""
    try:
        await queue.enqueue(PROCESS_INBOUND, inbound_id)
    except (RedisError, OSError):
        log.warning("queue unavailable; left for the sweeper", extra={"inbound_id": inbound_id})
        return False
    return True


async def queue_deliveries(queue: JobQueue, outbound_ids: Iterable[int]) -> bool:
    """Queue outbox rows for delivery, ahead of the backlog (all at once: they go to Redis in
    one batch). False when Redis is away: the sweeper queues them once it is back."""
    ids = list(outbound_ids)
    try:
        await asyncio.gather(*(queue.enqueue(DELIVER_OUTBOUND, i, ahead=True) for i in ids))
    except (RedisError, OSError):
        log.warning("queue unavailable; left for the sweeper", extra={"outbound_ids": ids})
        return False
    return True


__all__ = [
    "DELIVER_OUTBOUND",
    "PROCESS_INBOUND",
    "QUEUE_NAME",
    "ArqQueue",
    "Claims",
    "connect",
    "job_id",
    "queue_deliveries",
    "queue_inbound",
    "redis_settings",
    "redis_unreachable",
]
