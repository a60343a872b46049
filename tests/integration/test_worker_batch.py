"""The worker's batched path (``bots.batched``) gives what the per-message path gives.

The same varied messages (web chat and SMS, complaints of several matters, one event reported
by several citizens, urgent and collective ones, triage, small talk, a command, a service
request, a citizen staff wait for, one citizen writing twice) go through the per-message path
into one database and through ``handle_batch`` (the rest then per message, as the worker
does) into another, on SQLite and PostgreSQL; cases, history, incident membership and
suggestions, board entries, replies and the inbox rows must be the same. A replay files
nothing twice.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from arq.worker import Worker
from sqlalchemy import func, select

from civicline.bots.answers import Conversation
from civicline.bots.batched import handle_batch
from civicline.domain.cases import CaseStatus
from civicline.domain.citizens import ContactHandle
from civicline.domain.incidents import IncidentPolicy
from civicline.domain.messages import (
    Channel,
    DeliveryStatus,
    InboundMessage,
    InboundStatus,
    Language,
)
from civicline.gateway import worker
from civicline.gateway.bootstrap import inbound_router
from civicline.gateway.worker import build_worker
from civicline.handlers.cases import Routing
from civicline.handlers.delivery import deliver_many
from civicline.handlers.inbound import Handled
from civicline.nlu.base import Classification
from civicline.storage import database
from civicline.storage.filing import SqlBatchUnitOfWork
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.queue import PROCESS_INBOUND
from civicline.storage.tables import (
    BoardEntryRow,
    CaseEventRow,
    CaseRow,
    CitizenRow,
    InboundMessageRow,
    IncidentSuggestionRow,
    OutboundMessageRow,
)
from civicline.storage.taxonomy_file import load_taxonomy
from tests.support.places import Places, SqlUnitOfWorkFactory
from tests.support.services import fresh_postgres
from tests.support.taxonomy import sync_taxonomy

TAXONOMY = load_taxonomy()
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
ROUTING = Routing(0.4, SHANGHAI, incidents=IncidentPolicy())
BOARD: tuple[str, ...] = ("state", "consent", "title", "text", "terms", "status", "category")
BOARD += ("department", "district", "filed_at", "answered_at", "updated_at")
NUMBER = re.compile(r"\d{6}-\d{5}")

WEB, SMS = Channel.WEBCHAT, Channel.SMS
LAMP = "宣州区鳌峰街道梅园路的路灯已经坏了三天，晚上整条路黑漆漆的，老人孩子出门都不安全。"
MESSAGES: list[tuple[Channel, str, str]] = [
    (WEB, "chat-a", LAMP),
    (WEB, "chat-b", LAMP),  # the same event, another citizen: merged
    (SMS, "+8613800000001", "阳光小区3号楼的电梯这个月第三次停运了，老人只能爬楼梯。"),
    (WEB, "chat-c", "你好"),  # small talk
    (WEB, "chat-d", "帮助"),  # a command
    (WEB, "chat-a", "阳光小区门口的垃圾站五天没人清运，垃圾堆到了路边，气味很大。"),
    (WEB, "chat-e", "鳌峰街道梅园路有煤气泄漏，味道很大，很危险，快来人"),  # urgent
    (WEB, "chat-f", "我们一百多个工人被拖欠三个月工资，大家准备集体去市政府上访。"),
    (SMS, "+8613800000002", "说不清楚是什么事，就是心里不舒服"),  # triage
    (WEB, "chat-g", "我的案件现在怎么样了"),  # a service request
    (SMS, "+8613800000003", LAMP),  # the lamp again, by SMS
    (WEB, "chat-waited", "补充一下材料：楼道的灯也不亮"),  # staff wait for this citizen
    (WEB, "chat-h", "Hello, the street light on Meiyuan Road has been out for three days."),
    (WEB, "chat-c", "阳光小区3号楼的电梯停运了，住高层的老人下不了楼。"),  # with small talk
    (SMS, "+8613800000004", "阳光小区3号楼的电梯这个月第三次停运了，老人只能爬楼梯！"),
]
INTENTS = {
    "路灯": "urban_rural_construction",
    "street light": "urban_rural_construction",
    "电梯": "urban_rural_construction",
    "垃圾": "urban_rural_construction",
    "煤气": "urban_rural_construction",
    "工资": "labour_social_security",
    "你好": "greet",
    "怎么样": "status_query",
}


class KeywordClassifier:
    engine = "fake"

    async def classify(self, text: str) -> Classification:
        await asyncio.sleep(0)
        intent = next((v for k, v in INTENTS.items() if k in text), "other")
        confidence = 0.9 if intent != "other" else 0.2
        return Classification(intent, confidence, ((intent, confidence),), self.engine)


CONVERSATION = Conversation(TAXONOMY, ROUTING, KeywordClassifier())


@pytest.fixture(params=["sqlite", "postgres"])
def two_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        urls = [f"sqlite+aiosqlite:///{tmp_path / f'db{i}.db'}" for i in (1, 2)]
        for url in urls:
            database.upgrade(url)
        yield urls[0], urls[1]
        return
    with fresh_postgres() as one, fresh_postgres() as two:
        database.upgrade(one)
        database.upgrade(two)
        yield one, two


class Batches:
    def __init__(self, uow: SqlUnitOfWorkFactory) -> None:
        self.sessions = uow.sessions

    def __call__(self) -> SqlBatchUnitOfWork:
        return SqlBatchUnitOfWork(self.sessions)


async def _store(uow: SqlUnitOfWorkFactory) -> list[int]:
    async with uow() as u:
        await sync_taxonomy(u, TAXONOMY)
        await u.commit()
    # A citizen with a case paused for their answer, filed the day before.
    waited = ContactHandle(WEB, "chat-waited")
    earlier = NOW - timedelta(days=1)
    stored, _ = await SqlInboxWriter(uow.engine).add(
        InboundMessage(WEB, "before", waited.address, LAMP.replace("梅园路", "鳌峰路"), earlier)
    )
    assert stored.id is not None
    await inbound_router(uow, CONVERSATION).handle(stored.id, now=earlier)
    async with uow() as u:
        person = await u.citizens.by_handle(waited)
        assert person is not None and person.id is not None
        [case] = await u.cases.for_citizen(person.id, statuses=list(CaseStatus), limit=1)
        case.pause(actor="staff:clerk", at=earlier, reason="需要补充材料")
        await u.cases.save(case)
        await u.commit()
    ids = []
    for i, (channel, address, text) in enumerate(MESSAGES):
        at = NOW - timedelta(seconds=len(MESSAGES) - i)
        language = Language.EN if text.isascii() else None
        stored, _ = await SqlInboxWriter(uow.engine).add(
            InboundMessage(channel, f"p{i}", address, text, at, language)
        )
        assert stored.id is not None
        ids.append(stored.id)
    return ids


async def _outcome(uow: SqlUnitOfWorkFactory) -> dict[str, Any]:
    """Everything the messages made, without ids or random public ids."""
    async with uow() as u:
        s = u.session
        number = {r.id: r.number for r in await s.execute(select(CaseRow.id, CaseRow.number))}
        cases = [
            {
                c.name: getattr(row, c.name)
                for c in CaseRow.__table__.columns
                if c.name not in ("id", "citizen_id")
            }
            for row in await s.scalars(select(CaseRow).order_by(CaseRow.number))
        ]
        events = [
            (number[e.case_id], e.kind, e.actor, e.reason, e.from_status, e.to_status, e.data)
            for e in await s.scalars(select(CaseEventRow))
        ]
        board = sorted(
            (number[b.case_id], *(getattr(b, n) for n in BOARD))
            for b in await s.scalars(select(BoardEntryRow))
        )
        inbox = {
            m.provider_message_id: (m.status, number.get(m.case_id or 0), m.language)
            for m in await s.scalars(select(InboundMessageRow))
        }
        provider = {m.id: m.provider_message_id for m in await s.scalars(select(InboundMessageRow))}
        outbox = sorted(
            (provider.get(o.in_reply_to or 0), number.get(o.case_id or 0), str(o.choices), *row)
            for o in await s.scalars(select(OutboundMessageRow))
            for row in [(o.channel, o.recipient_address, o.text, o.status)]
        )
        suggestions = sorted(
            (number[g.case_id], number[g.lead_id], g.score, g.reason, g.status)
            for g in await s.scalars(select(IncidentSuggestionRow))
        )
        citizens = await s.scalar(select(func.count()).select_from(CitizenRow))
    assert all(NUMBER.fullmatch(n) for n in number.values())
    # Numbers follow the order cases open in (the batch's, then the messages left to the
    # per-message path): each is named by the first message filed into its case.
    names: dict[str | None, str] = {}
    for provider_id, (_, case_number, _) in sorted(inbox.items()):
        names.setdefault(case_number, provider_id)
    outcome = {
        "cases": cases,
        "events": events,
        "board": board,
        "inbox": inbox,
        "outbox": outbox,
        "suggestions": suggestions,
        "citizens": citizens,
    }
    return {key: _named(value, names) for key, value in outcome.items()}


def _named(value: Any, names: dict[str | None, str]) -> Any:
    match value:
        case str():
            return NUMBER.sub(lambda m: f"<{names.get(m.group(0), m.group(0))}>", value)
        case dict():
            return {_named(k, names): _named(v, names) for k, v in value.items()}
        case list():
            return sorted((_named(v, names) for v in value), key=repr)
        case tuple():
            return tuple(_named(v, names) for v in value)
    return value


# Also in two batches with one candidate a report: the second batch's reports rank each one's
# best stored candidate (``best``) with the batch's earlier reports as one report at a time
# ranks all of them.
@pytest.mark.parametrize(("candidates", "batches"), [(30, 1), (1, 2), (30, 2)])
async def test_the_batched_path_files_what_the_per_message_path_files(
    two_urls: tuple[str, str], candidates: int, batches: int
) -> None:
    conversation = Conversation(
        TAXONOMY,
        Routing(0.4, SHANGHAI, incidents=IncidentPolicy(candidates=candidates)),
        KeywordClassifier(),
    )
    one, two = (database.create_engine(url) for url in two_urls)
    try:
        each, batched = SqlUnitOfWorkFactory(one), SqlUnitOfWorkFactory(two)
        ids = await _store(batched)
        if batches == 1:
            # A message twice in one batch is opened once.
            results = await handle_batch(
                [*ids, ids[0]], NOW, uow_factory=Batches(batched), conversation=conversation
            )
            assert results[-1] == Handled([], already_done=True)
        else:
            middle = len(ids) // 2
            results = [
                *await handle_batch(
                    ids[:middle], NOW, uow_factory=Batches(batched), conversation=conversation
                ),
                *await handle_batch(
                    ids[middle:], NOW, uow_factory=Batches(batched), conversation=conversation
                ),
            ]
        left = [i for i, r in zip(ids, results, strict=False) if r is None]
        opened = [r for r in results if r is not None and r.case_number]
        if batches == 1:
            # Small talk, the command, the service request, the waited-for citizen and the
            # other message of the citizen who made small talk go one by one, after the batch.
            assert len(left) == 5
            assert len(opened) == len(MESSAGES) - 5
        for message_id in left:
            await inbound_router(batched, conversation).handle(message_id, now=NOW)
        # The same messages one after another, in that order.
        assert await _store(each) == ids
        for message_id in [i for i in ids if i not in left] + left:
            await inbound_router(each, conversation).handle(message_id, now=NOW)

        expected, got = await _outcome(each), await _outcome(batched)
        assert got == expected
        # Grouping did group: the lamp's reports joined its first one.
        merged = [c for c in got["cases"] if c["merged_into"] is not None]
        assert len(merged) >= 2
        assert any(c["urgent"] for c in got["cases"]) and any(c["collective"] for c in got["cases"])
        assert all(status == InboundStatus.PROCESSED for status, _, _ in got["inbox"].values())

        # A replay (every id again) files nothing and answers nothing.
        again = await handle_batch(
            ids, NOW, uow_factory=Batches(batched), conversation=conversation
        )
        assert again == [Handled([], already_done=True)] * len(ids)
        assert await _outcome(batched) == got
    finally:
        await one.dispose()
        await two.dispose()


async def test_a_worker_opens_batches_and_a_failed_batch_goes_one_by_one(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with places.services(worker_batch=True, worker_batch_size=8) as services:
        ids = []
        for i in range(24):
            _, address, text = MESSAGES[[0, 2, 5, 6, 7, 12][i % 6]]
            stored, _ = await services.inbox.add(
                InboundMessage(WEB, f"w{i}", f"{address}-{i}", text, services.now())
            )
            assert stored.id is not None
            ids.append(stored.id)
            await services.queue.enqueue(PROCESS_INBOUND, stored.id)
        poison, batches = ids[5], []

        async def failing(batch: list[int], now: datetime, **kwargs: Any) -> Any:
            batches.append(list(batch))
            if poison in batch:
                raise ValueError("a message no batch can file")
            return await handle_batch(batch, now, **kwargs)

        monkeypatch.setattr(worker, "handle_batch", failing)
        running = await build_worker(services, burst=True, sweep_at_start=False)
        await asyncio.wait_for(running.async_run(), 120)
        await running.close()

        assert max(len(b) for b in batches) > 1 and any(poison in b for b in batches)
        async with services.uow() as u:
            rows = [await u.inbox.get(i) for i in ids]
            replies = [await u.outbox.for_case(m.case_id or 0) for m in rows]
        # Every message opened its case once (the failed batch's one by one) and was answered.
        assert all(m.status == InboundStatus.PROCESSED and m.case_id for m in rows)
        assert len({m.case_id for m in rows}) == len(ids)
        assert all(len(r) == 1 and r[0].status == DeliveryStatus.SENT for r in replies)


async def test_without_batches_the_worker_is_arqs_own_one_job_a_message(places: Places) -> None:
    """``CIVICLINE_WORKER_BATCH=false``: arq's worker runs each ``process_inbound`` job."""
    async with places.services(worker_batch=False) as services:
        ids = []
        for i in range(6):
            _, address, text = MESSAGES[[0, 2, 5, 6, 7, 12][i]]
            stored, _ = await services.inbox.add(
                InboundMessage(WEB, f"p{i}", f"{address}-{i}", text, services.now())
            )
            assert stored.id is not None
            ids.append(stored.id)
            await services.queue.enqueue(PROCESS_INBOUND, stored.id)
        running = await build_worker(services, burst=True, sweep_at_start=False)
        assert type(running) is Worker
        await asyncio.wait_for(running.async_run(), 120)
        await running.close()
        assert running.jobs_complete >= len(ids)
        async with services.uow() as u:
            rows = [await u.inbox.get(i) for i in ids]
        assert all(m.status == InboundStatus.PROCESSED and m.case_id for m in rows)
        assert len({m.case_id for m in rows}) == len(ids)


async def test_a_batch_delivers_its_replies_and_jobs_take_over_when_that_fails(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's replies are delivered by the batch itself (no job each); when that fails,
    each reply is queued as a ``deliver_outbound`` job, and those jobs deliver it."""
    async with places.services(worker_batch=True, worker_batch_size=8) as services:
        ids = []
        for i in range(12):
            _, address, text = MESSAGES[[0, 2, 5, 6][i % 4]]
            stored, _ = await services.inbox.add(
                InboundMessage(WEB, f"d{i}", f"{address}-{i}", text, services.now())
            )
            assert stored.id is not None
            ids.append(stored.id)
            await services.queue.enqueue(PROCESS_INBOUND, stored.id)
        calls: list[list[int]] = []
        jobs: list[int] = []

        async def flaky(outbound_ids: list[int], **kwargs: Any) -> Any:
            calls.append(list(outbound_ids))
            if len(calls) == 1:
                raise RuntimeError("the first batch's delivery fails")
            return await deliver_many(outbound_ids, **kwargs)

        async def counted(ctx: dict[str, Any], outbound_id: int) -> None:
            jobs.append(outbound_id)
            await delivering(ctx, outbound_id)

        delivering = worker.deliver_outbound
        monkeypatch.setattr(worker, "deliver_many", flaky)
        monkeypatch.setattr(worker, "deliver_outbound", counted)
        running = await build_worker(services, burst=True, sweep_at_start=False)
        await asyncio.wait_for(running.async_run(), 120)
        await running.close()

        async with services.uow() as u:
            rows = [await u.inbox.get(i) for i in ids]
            replies = [r for m in rows for r in await u.outbox.for_case(m.case_id or 0)]
        assert len(replies) == len(ids)
        assert all(r.status == DeliveryStatus.SENT for r in replies)
        # Jobs for the replies of the batch whose delivery failed (the tests' sweeper, with
        # no grace, may queue others it finds still queued).
        assert set(calls[0]) <= set(jobs)
