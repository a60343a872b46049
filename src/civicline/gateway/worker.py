"""The workers: arq jobs that process inbound messages, deliver replies and sweep."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar, cast

from arq import Retry
from arq.cron import cron
from arq.worker import Worker, func
from redis.exceptions import RedisError

from civicline.bots.batched import handle_batch
from civicline.bots.guided import finish_expired
from civicline.domain.batching import Batcher
from civicline.gateway.bootstrap import Services
from civicline.gateway.mail import ReaderTask, imap_account, mailbox_reader
from civicline.handlers.appointments import remind as remind_booked
from civicline.handlers.delivery import DeliveryOutcome, deliver, deliver_many
from civicline.handlers.escalation import Schedule, run_schedule
from civicline.handlers.inbound import Handled
from civicline.handlers.incidents import index_unsigned
from civicline.handlers.supervision import remind
from civicline.handlers.surge import warn_of_surges
from civicline.handlers.sweep import sweep
from civicline.storage.database import unreachable
from civicline.storage.queue import (
    DELIVER_OUTBOUND,
    PROCESS_INBOUND,
    QUEUE_NAME,
    Claims,
    connect,
    queue_deliveries,
)

log = logging.getLogger(__name__)
# Claimed jobs are logged as arq's worker logs the jobs it runs (the same arrows, job ids and
# logger), so that what a worker holds reads the same in its log either way.
jobs_log = logging.getLogger("arq.worker")

LOST_CONNECTION_RETRY_SECONDS = 1.0
REMIND_FROM_HOUR = 9  # no reminder by SMS in the night


Job = TypeVar("Job", bound=Callable[[dict[str, Any], int], Awaitable[None]])


def again_if_the_database_is_lost(job: Job) -> Job:
    """A lost database connection (a restart, a killed backend) or an unreachable database
    fails no job: it runs again a second later on a fresh connection. Each run counts against
    the job's ``max_tries``."""

    @functools.wraps(job)
    async def run(ctx: dict[str, Any], key: int) -> None:
        try:
            await job(ctx, key)
        except Exception as exc:
            if not unreachable(exc):
                raise
            log.warning("database unreachable; the job runs again", extra={"job": ctx["job_id"]})
            raise Retry(defer=LOST_CONNECTION_RETRY_SECONDS) from None

    return cast(Job, run)


InboundBatcher = Batcher[int, Handled | None]
DeliveryBatcher = Batcher[int, DeliveryOutcome]


def inbound_batcher(services: Services) -> InboundBatcher:
    """Concurrent ``process_inbound`` jobs hand their message over; plain complaints are
    opened together (``bots.batched``), one commit a batch, and their replies delivered
    together at once (``deliver_now``). A batch that fails (not for the database's absence)
    leaves each of its messages to the per-message path, so one message cannot fail the
    others."""

    async def flush(ids: Sequence[int]) -> list[Handled | None]:
        try:
            results = await handle_batch(
                ids,
                services.now(),
                uow_factory=services.batch_uow,
                conversation=services.conversation,
            )
        except Exception as exc:
            if unreachable(exc):
                raise
            # The error's text may quote the messages: its kind only.
            log.warning(
                "batch failed; its messages go one by one", extra={"error": type(exc).__name__}
            )
            return [None] * len(ids)
        await deliver_now(services, [i for h in results if h for i in h.outbound_ids])
        return results

    return Batcher(flush, max_size=services.settings.worker_batch_size, shared=unreachable)


async def deliver_now(services: Services, outbound_ids: Sequence[int]) -> None:
    """Deliver a batch's replies in this worker, two transactions for all of them, instead of
    a ``deliver_outbound`` job each. Those to try again later are queued with their delay;
    if delivering fails, every one of them is queued as a job (and were Redis away too, the
    sweeper finds them unfinished in the outbox)."""
    if not outbound_ids:
        return
    try:
        outcomes = await deliver_many(
            outbound_ids,
            uow_factory=services.uow,
            senders=services.senders,
            policy=services.retry_policy,
            now=services.now(),
        )
    except Exception as exc:
        log.warning("delivery failed; the replies go as jobs", extra={"error": type(exc).__name__})
        await queue_deliveries(services.queue, outbound_ids)
        return
    for outbound_id, outcome in zip(outbound_ids, outcomes, strict=True):
        if outcome.retry_in is not None:
            await retry_delivery(services, outbound_id, outcome.retry_in)


async def retry_delivery(services: Services, outbound_id: int, delay: float) -> None:
    try:
        await services.queue.enqueue(DELIVER_OUTBOUND, outbound_id, defer_seconds=delay)
    except (RedisError, OSError):
        log.warning("queue unavailable; left for the sweeper", extra={"outbound_id": outbound_id})


def delivery_batcher(services: Services) -> DeliveryBatcher:
    """Concurrent ``deliver_outbound`` jobs hand their message over and are delivered
    together (``handlers.delivery.deliver_many``): two transactions a batch, not two a
    message. A batch that fails is split down to the message that fails (``Batcher``)."""

    async def flush(ids: Sequence[int]) -> list[DeliveryOutcome]:
        return await deliver_many(
            ids,
            uow_factory=services.uow,
            senders=services.senders,
            policy=services.retry_policy,
            now=services.now(),
        )

    return Batcher(flush, max_size=services.settings.worker_batch_size, shared=unreachable)


class BatchingWorker(Worker):
    """arq's worker, except that the ``process_inbound`` jobs it reads from the queue are
    claimed by the batch (``storage.queue.Claims``: one Redis round trip for all of them, and
    one to finish them, where arq's worker makes about seven a job) and handed to the inbound
    batcher together. A job the batch does not finish (a message for the per-message path, a
    database away, a worker stopping) is given back to arq's queue, where arq's worker runs it
    as ``process_inbound``, counting its tries; a job tried before is left to arq from the
    start. If the worker dies, the claimed jobs' in-progress marks expire as arq's do and any
    worker runs them again: the inbox rows say what is already done."""

    def __init__(self, *args: Any, batcher: InboundBatcher, batch_size: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._batcher = batcher
        self._room = 2 * batch_size  # claimed and not finished: the batch in flight, the next
        self._claims = Claims(self.pool, PROCESS_INBOUND)
        self._claimed: set[str] = set()
        self._batches = 0

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        prefix = self._claims.prefix.encode()
        others = [j for j in job_ids if not j.startswith(prefix)]
        inbound = [
            j.decode() for j in job_ids if j.startswith(prefix) and j.decode() not in self._claimed
        ][: max(0, self._room - len(self._claimed))]
        claimed, left = await self._claims.claim(inbound, hold_ms=self._hold_ms())
        if claimed:
            for job in claimed:
                jobs_log.info("→ %s:%s(%s) in a batch", job, PROCESS_INBOUND, job)
            self._claimed.update(claimed)
            self._batches += 1
            self.tasks[f"batch:{self._batches}"] = self.loop.create_task(self._run(claimed))
        await super().start_jobs([j.encode() for j in left] + others)

    def _hold_ms(self) -> int:
        return int(self.in_progress_timeout_s * 1000)

    async def _run(self, job_ids: list[str]) -> None:
        """Never raises (arq's poll would): what is not done goes back to the queue."""
        pending = {
            job: asyncio.ensure_future(self._batcher.submit(self._claims.key_of(job)))
            for job in job_ids
        }
        done: list[str] = []
        back: list[str] = []
        defer = 0.0
        try:
            finished, _ = await asyncio.wait(pending.values(), timeout=self.job_timeout_s)
            for job, future in pending.items():
                if future not in finished:
                    back.append(job)
                    continue
                error = future.exception()
                handled = None if error is not None else future.result()
                if handled is None:
                    back.append(job)
                    if error is not None and unreachable(error):
                        defer = LOST_CONNECTION_RETRY_SECONDS
                    elif error is not None:
                        log.warning(
                            "batch job failed; it runs again",
                            extra={"job": job, "error": type(error).__name__},
                        )
                    continue
                done.append(job)
                if handled.case_number:
                    log.info(
                        "case opened",
                        extra={"case": handled.case_number, "inbound_id": self._claims.key_of(job)},
                    )
        except asyncio.CancelledError:  # the worker stops: all of it goes back
            done, back = [], list(job_ids)
        finally:
            for future in pending.values():
                if not future.done():
                    future.cancel()
            if defer:
                log.warning("database unreachable; each job runs again", extra={"jobs": len(back)})
            await asyncio.shield(self._settle(done, back, defer))
            self._claimed.difference_update(job_ids)

    async def _settle(self, done: list[str], back: list[str], defer: float) -> None:
        try:
            await self._claims.finish(done)
            for job in done:
                jobs_log.info("← %s:%s in a batch", job, PROCESS_INBOUND)
            await self._claims.release(back, defer_seconds=defer)
            for job in back:
                jobs_log.info("↻ %s:%s given back by the batch", job, PROCESS_INBOUND)
        except (RedisError, OSError):
            # The in-progress marks expire: the jobs run again, and find what is done.
            log.warning("queue unavailable; claimed jobs left to expire", extra={"jobs": len(back)})


@again_if_the_database_is_lost
async def process_inbound(ctx: dict[str, Any], message_id: int) -> None:
    services: Services = ctx["services"]
    batcher: InboundBatcher | None = ctx.get("inbound_batcher")
    if batcher is not None:
        batched = await batcher.submit(message_id)
        if batched is not None:  # committed, its reply queued
            if batched.case_number:
                log.info(
                    "case opened", extra={"case": batched.case_number, "inbound_id": message_id}
                )
            return
    handled = await services.inbound.handle(message_id, now=services.now())
    if handled.case_number:
        log.info("case opened", extra={"case": handled.case_number, "inbound_id": message_id})
    await queue_deliveries(services.queue, handled.outbound_ids)


@again_if_the_database_is_lost
async def deliver_outbound(ctx: dict[str, Any], outbound_id: int) -> None:
    services: Services = ctx["services"]
    batcher: DeliveryBatcher | None = ctx.get("delivery_batcher")
    if batcher is not None:
        outcome = await batcher.submit(outbound_id)
    else:
        outcome = await deliver(
            outbound_id,
            uow_factory=services.uow,
            senders=services.senders,
            policy=services.retry_policy,
            now=services.now(),
        )
    if outcome.retry_in is not None:
        raise Retry(defer=outcome.retry_in)


async def watch_deadlines(ctx: dict[str, Any]) -> None:
    """Warn before cases fall due, escalate overdue ones (and handed-down ones to their parent
    unit), close unanswered return visits."""
    services: Services = ctx["services"]
    schedule = Schedule(
        services.calendar, services.settings.timezone, units=services.taxonomy.units
    )
    await run_schedule(uow_factory=services.uow, schedule=schedule, now=services.now())
    # Supervision orders due within a day or overdue: one reminder per order a day at most.
    await remind(
        uow_factory=services.uow, now=services.now(), city_timezone=services.settings.timezone
    )
    # A category surging in a district: one warning an hour to supervisors.
    await warn_of_surges(
        uow_factory=services.uow,
        policy=services.settings.surge_policy,
        taxonomy=services.taxonomy,
        city_timezone=services.settings.timezone,
        now=services.now(),
    )


async def incident_upkeep(ctx: dict[str, Any]) -> None:
    """At start and hourly: index the open cases of the incident window filed without a
    signature (before the upgrade that added them), forget index keys no report looks at."""
    services: Services = ctx["services"]
    policy = services.settings.incident_policy
    if policy is None:
        return
    now = services.now()
    indexed = await index_unsigned(services.uow, taxonomy=services.taxonomy, policy=policy, now=now)
    async with services.uow() as uow:
        pruned = await uow.incidents.prune(before=now - policy.window - timedelta(days=1))
        await uow.commit()
    if indexed or pruned:
        log.info("incident index kept", extra={"indexed": indexed, "pruned": pruned})


async def remind_appointments(ctx: dict[str, Any]) -> None:
    """Every few minutes from 09:00 (city time): tomorrow's appointments, each reminded once
    on the channel it was booked by (``handlers.appointments.remind``)."""
    await send_reminders(ctx["services"])


async def send_reminders(services: Services) -> list[int]:
    now = services.now()
    if now.astimezone(services.settings.timezone).hour < REMIND_FROM_HOUR:
        return []
    today = services.today()
    rota = await services.reception.rota(today, today + timedelta(days=1))
    sent = await remind_booked(uow_factory=services.uow, rota=rota, today=today, now=now)
    await queue_deliveries(services.queue, sent)
    return sent


async def sweep_unfinished(ctx: dict[str, Any]) -> None:
    services: Services = ctx["services"]
    await sweep(
        uow_factory=services.uow,
        queue=services.queue,
        now=services.now(),
        grace=services.sweep_grace,
    )
    # Guided dialogues the citizen walked away from open their cases on the NLU's reading.
    replies = await finish_expired(
        uow_factory=services.uow, conversation=services.conversation, now=services.now()
    )
    await queue_deliveries(services.queue, replies)


async def _start_mailbox(ctx: dict[str, Any]) -> None:
    """Read the city's mailbox beside the worker, when IMAP is set up (``gateway.mail``)."""
    services: Services = ctx["services"]
    account = imap_account(services.settings)
    if account is None or not services.settings.mail_reader:
        return
    reader = ReaderTask(mailbox_reader(account, services.letters, services.queue, services.now))
    reader.start()
    ctx["mailbox"] = reader


async def _stop_mailbox(ctx: dict[str, Any]) -> None:
    reader: ReaderTask | None = ctx.pop("mailbox", None)
    if reader is not None:
        await reader.stop()


async def build_worker(
    services: Services, *, burst: bool = False, sweep_at_start: bool = True
) -> Worker:
    """A worker on its own Redis connection (arq closes it with the worker)."""
    settings = services.settings
    every = max(1, min(59, settings.sweep_interval_seconds))
    batcher = inbound_batcher(services) if settings.worker_batch else None
    options: dict[str, Any] = dict(
        functions=[
            func(process_inbound, name=PROCESS_INBOUND, max_tries=5),
            func(
                deliver_outbound,
                name=DELIVER_OUTBOUND,
                max_tries=settings.delivery_max_attempts + 1,
            ),
        ],
        cron_jobs=[
            cron(
                sweep_unfinished,
                name="sweep",
                second=set(range(0, 60, every)),
                run_at_startup=sweep_at_start,
                unique=True,
            ),
            # Every minute. Rungs are taken once in the database whoever runs it, so several
            # workers may run it at the same moment.
            cron(watch_deadlines, name="deadlines", second=30, unique=True),
            cron(
                remind_appointments,
                name="appointments",
                minute=set(range(0, 60, 10)),
                second=15,
                unique=True,
            ),
            cron(
                incident_upkeep,
                name="incidents",
                minute=7,
                second=0,
                run_at_startup=sweep_at_start,
                unique=True,
            ),
        ],
        redis_pool=await connect(services.redis_url),
        queue_name=QUEUE_NAME,
        ctx={"services": services}
        | (
            {"inbound_batcher": batcher, "delivery_batcher": delivery_batcher(services)}
            if batcher is not None
            else {}
        ),
        on_startup=_start_mailbox,
        on_shutdown=_stop_mailbox,
        keep_result=0,
        # Also how long arq's in-progress mark lives (plus 10 s), that is, how soon a job in
        # flight on a worker that died (SIGKILL, OOM) is taken up by another: arq's default
        # of 300 s kept such work waiting five minutes.
        job_timeout=settings.job_timeout_seconds,
        # Batches fill from the jobs in flight: room for two of them.
        max_jobs=max(
            settings.worker_concurrency,
            2 * settings.worker_batch_size if settings.worker_batch else 0,
        ),
        burst=burst,
        handle_signals=False,
        poll_delay=0.05,
    )
    if batcher is None:
        return Worker(**options)
    return BatchingWorker(**options, batcher=batcher, batch_size=settings.worker_batch_size)


async def stop_worker(worker: Worker, running: asyncio.Task[None], grace: float = 10.0) -> None:
    """Stop taking jobs, give running ones ``grace`` seconds, then cancel what is left.

    A cancelled job is not lost: its inbox or outbox row is still unfinished, and the
    sweeper queues it again.
    """
    worker.allow_pick_jobs = False
    in_flight = [task for task in worker.tasks.values() if not task.done()]
    if in_flight:
        await asyncio.wait(in_flight, timeout=grace)
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    with contextlib.suppress(asyncio.CancelledError):
        await worker.close()
