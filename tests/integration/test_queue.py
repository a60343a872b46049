"""The job queue on the embedded and the real Redis: de-duplication, running, retry."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis
from arq import Retry
from arq.worker import Worker, func

from civicline.storage.queue import QUEUE_NAME, ArqQueue, Claims, connect, job_id
from civicline.storage.rate_limit import RateLimiter


async def test_same_job_is_queued_once_while_it_waits(redis_url: str) -> None:
    redis = await connect(redis_url)
    queue = ArqQueue(redis)
    try:
        assert await queue.enqueue("process_inbound", 7) is True
        assert await queue.enqueue("process_inbound", 7) is False
        assert await queue.enqueue("process_inbound", 8) is True
        queued = await redis.queued_jobs(queue_name=QUEUE_NAME)
        assert sorted(j.job_id for j in queued) == [
            job_id("process_inbound", 7),
            job_id("process_inbound", 8),
        ]
    finally:
        await redis.aclose()


async def test_worker_runs_jobs_then_a_finished_job_can_be_queued_again(redis_url: str) -> None:
    redis = await connect(redis_url)
    queue = ArqQueue(redis)
    seen: list[int] = []
    attempts: dict[int, int] = {}

    async def work(_ctx: dict[str, Any], key: int) -> None:
        attempts[key] = attempts.get(key, 0) + 1
        if key == 2 and attempts[key] == 1:
            raise Retry(defer=0.05)
        seen.append(key)

    def worker() -> Worker:
        return Worker(
            functions=[func(work, name="work")],
            redis_pool=redis,
            queue_name=QUEUE_NAME,
            keep_result=0,
            burst=True,
            handle_signals=False,
            poll_delay=0.01,
        )

    try:
        for key in (1, 2, 3):
            await queue.enqueue("work", key)
        w = worker()
        await asyncio.wait_for(w.async_run(), 20)
        await w.close()
        assert sorted(seen) == [1, 2, 3]
        assert attempts[2] == 2
        # Done and no result kept: the sweeper may queue it again if the database says so.
        assert await queue.enqueue("work", 1) is True
    finally:
        await redis.aclose()


async def test_unreachable_redis_raises_a_redis_error() -> None:
    from redis.exceptions import RedisError

    with pytest.raises((RedisError, OSError)):
        await connect("redis://127.0.0.1:1/0")


async def test_rate_limit_counts_per_key_within_a_window(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    limiter = RateLimiter(client, limit=3, window_seconds=1, prefix="test")
    try:
        assert [await limiter.hit("a") for _ in range(4)] == [True, True, True, False]
        assert await limiter.hit("b") is True
        assert 0 < await client.ttl("ratelimit:test:a") <= 1
        await asyncio.sleep(1.1)
        assert await limiter.hit("a") is True
    finally:
        await client.aclose()


async def test_concurrent_enqueues_share_a_round_trip_and_stay_unique(redis_url: str) -> None:
    redis = await connect(redis_url)
    queue = ArqQueue(redis)
    try:
        keys = [i % 30 for i in range(90)]
        flags = await asyncio.gather(*(queue.enqueue("process_inbound", k) for k in keys))
        assert sum(flags) == 30
        assert [flags[keys.index(k)] for k in range(30)] == [True] * 30  # the first of each
        queued = await redis.queued_jobs(queue_name=QUEUE_NAME)
        assert len(queued) == 30
        assert {j.function for j in queued} == {"process_inbound"}
        assert sorted(j.args[0] for j in queued) == list(range(30))
    finally:
        await redis.aclose()


async def test_a_job_queued_ahead_runs_before_the_backlog(redis_url: str) -> None:
    redis = await connect(redis_url)
    queue = ArqQueue(redis)
    order: list[str] = []

    async def work(ctx: dict[str, Any], key: int) -> None:
        order.append(f"{ctx['job_id'].split(':')[0]}:{key}")

    try:
        for key in range(5):
            await queue.enqueue("inbound", key)
        await queue.enqueue("reply", 99, ahead=True)
        worker = Worker(
            functions=[func(work, name="inbound"), func(work, name="reply")],
            redis_pool=redis,
            queue_name=QUEUE_NAME,
            keep_result=0,
            burst=True,
            handle_signals=False,
            max_jobs=1,
            poll_delay=0.01,
        )
        await asyncio.wait_for(worker.async_run(), 20)
        await worker.close()
        assert order[0] == "reply:99" and sorted(order[1:]) == [f"inbound:{k}" for k in range(5)]
    finally:
        await redis.aclose()


async def test_claimed_jobs_are_held_like_running_ones_and_go_back_to_arq(redis_url: str) -> None:
    """A batch's claim marks jobs in progress as arq's worker marks the job it runs: no one
    else claims or runs them; finished, they are gone; given back (or left by a worker that
    died, whose marks expire), arq's worker runs them, counting the claim as a try."""
    redis = await connect(redis_url)
    queue = ArqQueue(redis)
    claims = Claims(redis, "work")
    ran: dict[int, int] = {}

    async def work(ctx: dict[str, Any], key: int) -> None:
        ran[key] = ctx["job_try"]

    try:
        for key in (1, 2, 3, 4):
            await queue.enqueue("work", key)
        await queue.enqueue("work", 5, defer_seconds=60)
        ids = [job_id("work", k) for k in (1, 2, 3, 4, 5)]
        claimed, left = await claims.claim(ids, hold_ms=200)
        assert (claimed, left) == (ids[:4], [])  # the deferred one is not due
        assert await claims.claim(ids, hold_ms=200) == ([], [])  # held
        assert claims.key_of(claimed[2]) == 3
        await claims.finish(claimed[:2])
        await claims.release(claimed[2:3])
        await asyncio.sleep(0.3)  # the fourth's mark expires, as a dead worker's would
        assert await claims.claim(ids, hold_ms=200) == ([], ids[2:4])  # tried: arq's
        assert await queue.enqueue("work", 1) is True  # finished: may be queued again
        worker = Worker(
            functions=[func(work, name="work")],
            redis_pool=redis,
            queue_name=QUEUE_NAME,
            keep_result=0,
            burst=True,
            max_burst_jobs=3,
            handle_signals=False,
            poll_delay=0.01,
        )
        await asyncio.wait_for(worker.async_run(), 20)
        await worker.close()
        assert ran == {1: 1, 3: 2, 4: 2}
    finally:
        await redis.aclose()
