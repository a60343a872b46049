"""Nothing is lost: a worker killed mid-job and a flushed Redis are repaired by the sweeper,
and jobs whose database connection is killed run again at once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from civicline.domain.accounts import Role
from civicline.domain.messages import DeliveryStatus, InboundStatus
from civicline.gateway.bootstrap import Services
from civicline.gateway.users import create_user
from civicline.gateway.worker import build_worker, stop_worker
from civicline.handlers import case_actions
from civicline.handlers.sweep import sweep
from civicline.storage.queue import PROCESS_INBOUND
from tests.support.factories import inbound
from tests.support.places import Places
from tests.support.services import terminate_backends

COMPLAINTS = [
    "幸福路88号的路灯坏了一个星期，晚上很黑",
    "人民公园旁边的饭店油烟太大，熏得窗户都不敢开",
    "21路公交车经常不按站停车，司机态度也很差",
    "公司拖欠我们三个月工资了，老板一直躲着不见",
    "小区电梯经常困人，物业不管不问",
    "The streetlight outside 12 Harbour Road has been out for a week",
]


async def _ids(services: Services) -> tuple[list[int], list[int]]:
    async with services.uow() as uow:
        far = services.now() + timedelta(days=1)
        return (
            await uow.inbox.unprocessed_ids(received_before=far, limit=1000),
            await uow.outbox.unfinished_ids(updated_before=far, limit=1000),
        )


async def _flush(services: Services) -> None:
    await services.redis.flushdb()


async def _sweep_and_drain(services: Services) -> None:
    await sweep(
        uow_factory=services.uow, queue=services.queue, now=services.now(), grace=timedelta(0)
    )
    worker = await build_worker(services, burst=True, sweep_at_start=False)
    await asyncio.wait_for(worker.async_run(), 60)
    await worker.close()


def _worker_process(services: Services) -> subprocess.Popen[bytes]:
    settings = services.settings
    env = {
        **os.environ,
        "CIVICLINE_DATABASE_URL": settings.db_url,
        "CIVICLINE_REDIS_URL": settings.redis_url or "",
        "CIVICLINE_VAR_DIR": str(settings.var_dir),
        "CIVICLINE_MODEL_DIR": str(settings.model_dir),
        "CIVICLINE_SECRET_KEY": "test-secret-key",
        "CIVICLINE_WORKER_CONCURRENCY": "1",
        "CIVICLINE_LOG_LEVEL": "WARNING",
    }
    code = "from civicline.gateway.cli import app; app()"
    return subprocess.Popen([sys.executable, "-c", code, "worker"], env=env)


async def test_killed_worker_and_flushed_redis_lose_nothing(services: Services) -> None:
    messages = [
        inbound(f"m{i}", address=f"conv-{i % 3}", text=COMPLAINTS[i % len(COMPLAINTS)])
        for i in range(30)
    ]
    for message in messages:
        message.received_at = services.now()
        stored, _ = await services.inbox.add(message)
        await services.queue.enqueue(PROCESS_INBOUND, stored.id or 0)

    worker = _worker_process(services)
    mid_job = False
    try:
        # Kill it once it has finished some work and holds a job in progress (its start-up
        # takes a minute on a busy machine).
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            pending, _ = await _ids(services)
            running = await services.redis.keys("arq:in-progress:*")
            if len(pending) < len(messages) and running:
                mid_job = True
                break
            await asyncio.sleep(0.005)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait(10)
    assert mid_job, "never caught the worker in the middle of a job"

    await _flush(services)
    await _sweep_and_drain(services)

    pending, unfinished = await _ids(services)
    assert pending == [] and unfinished == []
    async with services.uow() as uow:
        rows = [await uow.inbox.get(i + 1) for i in range(len(messages))]
    assert all(m.status == InboundStatus.PROCESSED and m.case_id for m in rows)
    assert len({m.case_id for m in rows}) == len(messages)

    # Staff answer every case while Redis is wiped again before the jobs run.
    boss = await create_user(
        services.uow(),
        services.taxonomy,
        "boss",
        "a long password",
        Role.SUPERVISOR,
        None,
        now=services.now(),
    )
    # Repeats of a complaint joined its first report (one incident): answering the first
    # reports answers everyone.
    async with services.uow() as uow:
        cases = [await uow.cases.get(m.case_id or 0) for m in rows]
    leads = sorted({c.number for c in cases if c.merged_into is None})
    assert len(leads) == len(COMPLAINTS)
    replies = [
        await case_actions.reply_to_all(
            n, "已处理", user=boss, uow=services.uow(), now=services.now()
        )
        for n in leads
    ]
    outbound_ids = [i for reply in replies for i in reply.ids()]
    assert len(outbound_ids) == len(messages)
    await _flush(services)
    await _sweep_and_drain(services)
    async with services.uow() as uow:
        states = {(await uow.outbox.get(i)).status for i in outbound_ids}
    assert states == {DeliveryStatus.SENT}


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_jobs_outlive_killed_database_connections(
    places: Places, caplog: pytest.LogCaptureFixture
) -> None:
    """Every database session ended while a worker is busy: the jobs hit run again a second
    later on new connections; none waits for the sweeper (whose grace here is ten minutes)."""
    async with places.services(sweep_grace_seconds=600, worker_concurrency=8) as services:
        # Enough work that the kills land while batches are in flight (the batched worker
        # opened 60 of them before the first kill at 0.3 s).
        texts = [f"{COMPLAINTS[i % len(COMPLAINTS)]}（第{i}次反映）" for i in range(240)]
        for i, text in enumerate(texts):
            message = inbound(f"k{i}", address=f"conv-{i}", text=text)
            message.received_at = services.now()
            stored, _ = await services.inbox.add(message)
            await services.queue.enqueue(PROCESS_INBOUND, stored.id or 0)
        worker = await build_worker(services, sweep_at_start=False)
        working = asyncio.create_task(worker.async_run())
        try:
            ended = 0
            # Four rounds at most, while messages wait: each fails the work in flight once,
            # and a job has five tries.
            for _ in range(4):
                await asyncio.sleep(0.1 if ended == 0 else 0.3)
                ended += await terminate_backends(services.settings.db_url)
                pending, _ = await _ids(services)
                if not pending:
                    break
            assert ended > 0
            for _ in range(300):
                pending, _ = await _ids(services)
                if not pending:
                    break
                await asyncio.sleep(0.1)
        finally:
            await stop_worker(worker, working)
        assert pending == [], f"{len(pending)} messages left for the sweeper"
        assert any("job runs again" in r.getMessage() for r in caplog.records)
        async with services.uow() as uow:
            stored_all = [await uow.inbox.get(i + 1) for i in range(len(texts))]
        assert len({m.case_id for m in stored_all}) == len(texts)
