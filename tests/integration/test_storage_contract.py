"""The storage ports' contract, run against SQLite, the real PostgreSQL and, where the port has
one, the in-memory adapter (tests/fakes/memory.py) that handler unit tests use.

Tests taking ``store`` run on all three; tests taking ``uow`` check what only SQL has (the
batching inbox writer, raw counters, row locks) and the ports the memory unit of work does not
keep: supervision, ownership, the board, governance and stats here; incidents
(test_incidents.py), letters and the mail cursor (test_mailbox_reader.py), the queue view
(test_console_storage.py) and the job queue on embedded and real Redis (test_queue.py) beside
the features that use them, on both databases too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from civicline.domain.accounts import Role, StaffUser
from civicline.domain.board import BoardEntry, BoardState
from civicline.domain.cases import AWAITING_REPLY, Case, CaseStatus, EventKind
from civicline.domain.citizens import ContactHandle
from civicline.domain.claims import CannedReply, ConsoleSession, LockoutPolicy
from civicline.domain.dialogues import DIALOGUE_TIMEOUT, Dialogue, Stage
from civicline.domain.errors import NotFound
from civicline.domain.governance import Notification
from civicline.domain.messages import Channel, DeliveryStatus, InboundStatus, Language
from civicline.domain.ownership import CaseOwner
from civicline.domain.supervision import SupervisionOrder
from civicline.domain.taxonomy import Department
from civicline.domain.visits import (
    AlreadyBooked,
    Appointment,
    AppointmentStatus,
    Earlier,
    Full,
    Outcome,
    Visit,
    VisitKind,
    Visitor,
)
from civicline.storage import database
from civicline.storage.base import InboxWriter, UnitOfWork
from civicline.storage.database import UnstorableText
from civicline.storage.intake import SqlInboxWriter
from tests.fakes.memory import MemoryStore
from tests.support.factories import DEPARTMENTS, T0, case, inbound, outbound
from tests.support.places import SqlUnitOfWorkFactory
from tests.support.services import migrated_database


@dataclass
class Store:
    """One storage backend: its units of work and the webhook path's inbox writer."""

    kind: str
    uow: Callable[[], UnitOfWork]
    writer: InboxWriter


@pytest.fixture(params=["sqlite", "postgres", "memory"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "memory":
        yield "memory"
        return
    with migrated_database(request, tmp_path, request.param) as url:
        yield url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    if store_url == "memory":
        memory = MemoryStore()
        yield await _with_departments(Store("memory", memory.uow, memory.writer))
        return
    engine = database.create_engine(store_url)
    sql = Store(store_url.split(":")[0], SqlUnitOfWorkFactory(engine), SqlInboxWriter(engine))
    yield await _with_departments(sql)
    await engine.dispose()


async def _with_departments(store: Store) -> Store:
    async with store.uow() as u:
        await u.departments.sync(DEPARTMENTS)
        await u.commit()
    return store


async def _citizen(uow_factory: Callable[[], UnitOfWork], address: str = "conv-1") -> int:
    async with uow_factory() as u:
        citizen = await u.citizens.get_or_create(
            ContactHandle(Channel.WEBCHAT, address), at=T0, language=Language.ZH
        )
        await u.commit()
    assert citizen.id is not None
    return citizen.id


async def test_inbox_stores_a_provider_message_once(store: Store) -> None:
    writer = store.writer
    first, created = await writer.add(inbound("m1"))
    again, created_again = await writer.add(inbound("m1", text="另一条"))
    other, created_other = await writer.add(inbound("m2"))
    assert (created, created_again, created_other) == (True, False, True)
    assert again.id == first.id and again.text == "路灯坏了"
    assert other.id != first.id


async def test_inbox_batches_concurrent_writes_and_duplicates(store: Store) -> None:
    writer = store.writer
    await writer.add(inbound("old"))
    keys = [f"k{i % 40}" for i in range(100)] + ["old"]
    results = await asyncio.gather(
        *(writer.add(inbound(k, text=f"#{n}")) for n, k in enumerate(keys))
    )
    created = [k for k, (_, new) in zip(keys, results, strict=True) if new]
    assert sorted(created) == sorted({f"k{i}" for i in range(40)})
    by_key: dict[str, set[int | None]] = {}
    for key, (message, _) in zip(keys, results, strict=True):
        by_key.setdefault(key, set()).add(message.id)
    assert all(len(ids) == 1 for ids in by_key.values())
    assert len({next(iter(ids)) for ids in by_key.values()}) == 41
    async with store.uow() as u:
        stored = [await u.inbox.get(next(iter(by_key[f"k{i}"])) or 0) for i in range(40)]
    assert [m.text for m in stored] == [f"#{i}" for i in range(40)]  # the first one wins


@pytest.mark.parametrize("poison", ["NUL \x00 here", "lone \ud800 surrogate"])
async def test_one_unstorable_message_fails_alone(uow: SqlUnitOfWorkFactory, poison: str) -> None:
    """29 good messages and one the database cannot store, all in one batch: the 29 are
    stored, the bad one alone gets an error, and the error does not quote it."""
    writer = SqlInboxWriter(uow.engine)
    keys = [f"good-{i}" for i in range(30)]
    keys[15] = "bad"
    messages = [inbound(k, text=poison if k == "bad" else f"第{k}条：路灯坏了") for k in keys]
    results = await asyncio.gather(*(writer.add(m) for m in messages), return_exceptions=True)
    bad = results.pop(15)
    assert isinstance(bad, UnstorableText) and poison not in str(bad)
    assert all(not isinstance(r, BaseException) and r[1] for r in results), results
    async with uow() as u:
        stored = [await u.inbox.get(m.id or 0) for m, _ in results]  # type: ignore[misc]
    assert sorted(m.provider_message_id for m in stored) == sorted(set(keys) - {"bad"})


async def test_inbox_tracks_unprocessed_messages(store: Store) -> None:
    writer = store.writer
    a, _ = await writer.add(inbound("a"))
    b, _ = await writer.add(inbound("b"))
    async with store.uow() as u:
        b.status = InboundStatus.PROCESSED
        await u.inbox.save(b, processed_at=T0)
        await u.commit()
    async with store.uow() as u:
        later = T0 + timedelta(seconds=1)
        assert await u.inbox.unprocessed_ids(received_before=later, limit=10) == [a.id]
        assert await u.inbox.unprocessed_ids(received_before=T0, limit=10) == []
        stored = await u.inbox.get(a.id or 0)
    assert stored.received_at == T0 and stored.received_at.tzinfo is not None


async def test_nothing_is_kept_without_commit(store: Store) -> None:
    async with store.uow() as u:
        await u.outbox.add(outbound())
    async with store.uow() as u:
        assert await u.outbox.unfinished_ids(updated_before=T0 + timedelta(days=1), limit=10) == []


async def test_one_citizen_per_handle(store: Store) -> None:
    first = await _citizen(store.uow, "conv-1")
    again = await _citizen(store.uow, "conv-1")
    other = await _citizen(store.uow, "conv-2")
    assert first == again != other
    async with store.uow() as u:
        citizen = await u.citizens.get(first)
        assert citizen.handle_on(Channel.WEBCHAT) == ContactHandle(Channel.WEBCHAT, "conv-1")
        assert await u.citizens.by_handle(ContactHandle(Channel.SMS, "+8613800000000")) is None
        with pytest.raises(NotFound):
            await u.citizens.get(999_999)


async def test_case_numbers_are_sequential_per_day_and_unique_under_concurrency(
    store: Store,
) -> None:
    day = date(2026, 11, 27)

    async def take() -> str:
        async with store.uow() as u:
            number = await u.cases.next_number(day)
            await u.commit()
            return number

    numbers = [await take() for _ in range(3)]
    assert numbers == ["261127-00001", "261127-00002", "261127-00003"]
    many = await asyncio.gather(*(take() for _ in range(20)))
    assert len(set(many)) == 20
    assert sorted(many)[-1] == "261127-00023"
    async with store.uow() as u:
        assert await u.cases.next_number(date(2026, 11, 28)) == "261128-00001"


async def test_case_numbers_come_in_blocks_after_the_days_old_counter_and_cases(
    uow: SqlUnitOfWorkFactory, db_url: str
) -> None:
    citizen = await _citizen(uow)
    day = T0.date()
    async with uow() as u:
        await u.session.execute(
            text("INSERT INTO case_counters (day, last) VALUES (:day, 41)"), {"day": day}
        )
        await u.cases.add(case(f"{day:%y%m%d}-00057", citizen))  # filed by hand, say
        await u.commit()
    async with uow() as u:
        block = await u.cases.next_numbers(day, 3)
        assert await u.cases.next_numbers(day, 0) == []
        await u.commit()
    # PostgreSQL's day sequence starts after both; SQLite counts on from the counter row.
    first = 58 if db_url.startswith("postgresql") else 42
    assert block == [f"{day:%y%m%d}-{n:05d}" for n in range(first, first + 3)]


async def test_an_open_transaction_holding_a_case_number_blocks_no_other(
    uow: SqlUnitOfWorkFactory, db_url: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers: the race needs PostgreSQL")
    day = date(2026, 11, 27)
    async with uow() as holder:
        first = await holder.cases.next_number(day)
        # The first transaction stays open; the second still gets its number at once.
        async with uow() as other:
            second = await asyncio.wait_for(other.cases.next_number(day), timeout=5)
            await other.commit()
        await holder.session.rollback()
    async with uow() as u:
        third = await u.cases.next_number(day)
    # The rolled-back number is not given out again: numbers only grow, gaps allowed.
    assert first < second < third == "261127-00003"


async def test_case_and_its_history_round_trip(store: Store) -> None:
    citizen = await _citizen(store.uow)
    new = case("261127-00001", citizen)
    new.assign("housing_construction", actor="system", at=T0, reason="routed")
    async with store.uow() as u:
        await u.cases.add(new)
        await u.commit()
    assert new.pending_events == []
    async with store.uow() as u:
        loaded = await u.cases.by_number("261127-00001", with_history=True)
        loaded.forward(
            "transport", actor="staff:li", at=T0 + timedelta(hours=1), reason="是道路问题"
        )
        await u.cases.save(loaded)
        await u.commit()
    async with store.uow() as u:
        final = await u.cases.by_number("261127-00001", with_history=True)
        assert (await u.cases.get(final.id or 0)).number == final.number
        with pytest.raises(NotFound):
            await u.cases.by_number("261127-99999")
    assert final.status == CaseStatus.FORWARDED and final.department == "transport"
    assert [(e.kind, e.from_status, e.to_status) for e in final.events] == [
        (EventKind.TRANSITION, CaseStatus.RECEIVED, CaseStatus.ACCEPTED),
        (EventKind.TRANSITION, CaseStatus.ACCEPTED, CaseStatus.ASSIGNED),
        (EventKind.TRANSITION, CaseStatus.ASSIGNED, CaseStatus.FORWARDED),
    ]
    last = final.events[-1]
    assert last.actor == "staff:li" and last.reason == "是道路问题"
    assert last.data == {"from_department": "housing_construction", "department": "transport"}
    assert last.at == T0 + timedelta(hours=1)


async def test_reply_queue_orders_by_deadline_and_filters(store: Store) -> None:
    citizen = await _citizen(store.uow)
    async with store.uow() as u:
        for i, (days, dept) in enumerate(
            [(5, "housing_construction"), (2, "housing_construction"), (1, "transport"), (3, None)]
        ):
            c = case(f"261127-0000{i + 1}", citizen, due_in_days=days)
            if dept:
                c.assign(dept, actor="system", at=T0)
            await u.cases.add(c)
        await u.commit()
    async with store.uow() as u:
        housing = await u.cases.queue(
            statuses=AWAITING_REPLY, department="housing_construction", limit=10
        )
        everyone = await u.cases.queue(statuses=AWAITING_REPLY, department=None, limit=10)
        triage = await u.cases.queue(statuses=[CaseStatus.RECEIVED], department=None, limit=10)
        page = await u.cases.queue(statuses=AWAITING_REPLY, department=None, limit=1, offset=1)
        numbers = await u.cases.numbers_by_id([c.id or 0 for c in everyone])
    assert [c.number for c in housing] == ["261127-00002", "261127-00001"]
    assert [c.number for c in everyone] == ["261127-00003", "261127-00002", "261127-00001"]
    assert [c.number for c in triage] == ["261127-00004"]
    assert [c.number for c in page] == ["261127-00002"]
    assert sorted(numbers.values()) == ["261127-00001", "261127-00002", "261127-00003"]


async def test_outbox_tracks_delivery(store: Store) -> None:
    async with store.uow() as u:
        message = await u.outbox.add(outbound())
        await u.commit()
    assert message.id is not None
    async with store.uow() as u:
        stored = await u.outbox.get(message.id, lock=True)
        stored.status = DeliveryStatus.SENDING
        stored.attempts = 1
        stored.last_error = "timeout"
        stored.updated_at = T0 + timedelta(minutes=1)
        await u.outbox.save(stored)
        await u.commit()
    async with store.uow() as u:
        again = await u.outbox.get(message.id)
        assert (again.status, again.attempts, again.last_error) == (
            DeliveryStatus.SENDING,
            1,
            "timeout",
        )
        later = T0 + timedelta(minutes=2)
        assert await u.outbox.unfinished_ids(updated_before=later, limit=10) == [message.id]
        assert await u.outbox.unfinished_ids(updated_before=T0, limit=10) == []
        assert [m.id for m in await u.outbox.conversation(Channel.WEBCHAT, "conv-1", limit=5)] == [
            message.id
        ]
        assert await u.outbox.conversation(Channel.WEBCHAT, "conv-2", limit=5) == []


async def test_outbox_reads_and_writes_many_at_once(store: Store) -> None:
    async with store.uow() as u:
        added = [await u.outbox.add(outbound(address=f"conv-{i}")) for i in range(3)]
        await u.commit()
    ids = [m.id or 0 for m in added]
    async with store.uow() as u:
        found = await u.outbox.get_many([ids[2], ids[0], ids[2]], lock=True)
        assert [m.id for m in found] == [ids[0], ids[2]]
        assert found[1] == await u.outbox.get(ids[2])
        for m in found:
            m.status, m.attempts, m.last_error = DeliveryStatus.SENT, 1, None
            m.provider_message_id, m.updated_at = f"p-{m.id}", T0 + timedelta(minutes=1)
        await u.outbox.save_many(found)
        await u.outbox.save_many([])
        await u.commit()
    async with store.uow() as u:
        again = await u.outbox.get_many(ids)
        assert [(m.status, m.attempts, m.provider_message_id) for m in again] == [
            (DeliveryStatus.SENT, 1, f"p-{ids[0]}"),
            (DeliveryStatus.QUEUED, 0, None),
            (DeliveryStatus.SENT, 1, f"p-{ids[2]}"),
        ]
        assert again[0].updated_at == T0 + timedelta(minutes=1)
        assert await u.outbox.get_many([]) == []
        with pytest.raises(NotFound):
            await u.outbox.get_many([ids[0], 999_999])


async def test_staff_accounts(store: Store) -> None:
    async with store.uow() as u:
        assert await u.staff.count() == 0
        user = await u.staff.add(
            StaffUser("li", "hash", Role.STAFF, created_at=T0, department="transport")
        )
        await u.commit()
    async with store.uow() as u:
        found = await u.staff.by_username("li")
        assert found is not None and found.id == user.id and found.role == Role.STAFF
        assert await u.staff.by_username("wang") is None
        assert await u.staff.count() == 1
        assert [d.code for d in await u.departments.all()] == sorted(d.code for d in DEPARTMENTS)


async def test_citizens_link_handles_language_and_opt_out(store: Store) -> None:
    first, other = await _citizen(store.uow, "conv-1"), await _citizen(store.uow, "conv-2")
    sms = ContactHandle(Channel.SMS, "+8613800000001")
    async with store.uow() as u:
        assert await u.citizens.link(first, sms)
        assert await u.citizens.link(first, sms)  # again: still theirs
        assert not await u.citizens.link(other, sms)  # someone else's
        await u.citizens.set_language(first, Language.EN)
        await u.citizens.set_opt_out(sms, True)
        with pytest.raises(NotFound):
            await u.citizens.set_opt_out(ContactHandle(Channel.SMS, "+86139"), True)
        await u.commit()
    async with store.uow() as u:
        citizen = await u.citizens.by_handle(sms)
        assert citizen is not None and citizen.id == first and citizen.language == Language.EN
        assert citizen.handle_on(Channel.SMS) == sms
        assert await u.citizens.is_opted_out(sms)
        assert not await u.citizens.is_opted_out(ContactHandle(Channel.WEBCHAT, "conv-1"))
        handles = [sms, ContactHandle(Channel.WEBCHAT, "conv-1"), ContactHandle(Channel.SMS, "+1")]
        assert await u.citizens.opted_out(handles) == {sms}
        assert await u.citizens.opted_out([]) == set()
        await u.citizens.set_opt_out(sms, False)
        await u.commit()
    async with store.uow() as u:
        assert not await u.citizens.is_opted_out(sms)


async def test_inbox_links_messages_to_cases_and_keeps_conversations(store: Store) -> None:
    citizen = await _citizen(store.uow)
    stored = [(await store.writer.add(inbound(f"m{i}")))[0] for i in range(3)]
    other, _ = await store.writer.add(inbound("x", address="conv-2"))
    async with store.uow() as u:
        new = await u.cases.add(case("261127-00001", citizen))
        assert new.id is not None
        await u.inbox.link_case([m.id or 0 for m in stored[:2]], new.id)
        await u.inbox.link_case([], new.id)
        await u.commit()
    async with store.uow() as u:
        assert [m.id for m in await u.inbox.for_case(new.id)] == [m.id for m in stored[:2]]
        recent = await u.inbox.conversation(Channel.WEBCHAT, "conv-1", limit=2)
        assert [m.id for m in recent] == [stored[1].id, stored[2].id]  # oldest first
        assert [m.id for m in await u.inbox.conversation(Channel.WEBCHAT, "conv-2", limit=5)] == [
            other.id
        ]
        with pytest.raises(NotFound):
            await u.inbox.get(999_999)


async def test_cases_of_a_citizen_and_reports_merged_into_a_case(store: Store) -> None:
    citizen, other = await _citizen(store.uow, "conv-1"), await _citizen(store.uow, "conv-2")
    async with store.uow() as u:
        lead = await u.cases.add(case("261127-00001", citizen))
        second = await u.cases.add(case("261127-00002", citizen))
        third = await u.cases.add(case("261127-00003", other))
        third.merge_into("261127-00001", actor="system", at=T0, reason="same outage")
        await u.cases.save(third)
        second.reject(actor="staff:li", at=T0, reason="not ours")
        await u.cases.save(second)
        await u.commit()
    async with store.uow() as u:
        open_ones = await u.cases.for_citizen(citizen, statuses=[CaseStatus.RECEIVED], limit=5)
        assert [c.number for c in open_ones] == [lead.number]
        every = await u.cases.for_citizen(
            citizen, statuses=[CaseStatus.RECEIVED, CaseStatus.REJECTED], limit=5
        )
        assert [c.number for c in every] == [second.number, lead.number]  # newest first
        merged = await u.cases.reports_merged_into(lead.number)
        assert [c.number for c in merged] == [third.number]
        assert await u.cases.numbers_by_id([]) == {}


async def test_departments_are_added_and_renamed(store: Store) -> None:
    renamed = Department("transport", "市交通局", "Transport")
    async with store.uow() as u:
        await u.departments.sync([renamed, Department("water", "市水务局", "Water")])
        await u.commit()
    async with store.uow() as u:
        departments = {d.code: d for d in await u.departments.all()}
    assert departments["transport"] == renamed and "water" in departments
    assert "housing_construction" in departments  # none removed


async def test_dialogues_are_kept_per_handle_until_cleared_or_stale(store: Store) -> None:
    handle, other = ContactHandle(Channel.WEBCHAT, "conv-1"), ContactHandle(Channel.SMS, "+86")
    first, _ = await store.writer.add(inbound("m1"))
    second, _ = await store.writer.add(inbound("m2"))
    assert first.id and second.id
    async with store.uow() as u:
        await u.dialogues.save(Dialogue(handle, Stage.PLACE, first.id, T0, {"intent": "roads"}))
        await u.dialogues.save(Dialogue(other, Stage.CATEGORY, second.id, T0 + DIALOGUE_TIMEOUT))
        await u.commit()
    async with store.uow() as u:
        found = await u.dialogues.get(handle, lock=True)
        assert (
            found is not None and found.stage == Stage.PLACE and found.data == {"intent": "roads"}
        )
        found.stage = Stage.CATEGORY
        await u.dialogues.save(found)
        assert await u.dialogues.expired(now=T0 + DIALOGUE_TIMEOUT, limit=5) == [handle]
        await u.dialogues.clear(handle)
        await u.commit()
    async with store.uow() as u:
        assert await u.dialogues.get(handle) is None
        kept = await u.dialogues.get(other)
        assert kept is not None and kept.message_id == second.id


async def test_claims_are_taken_renewed_refused_and_released(store: Store) -> None:
    citizen = await _citizen(store.uow)
    hour = timedelta(hours=1)
    async with store.uow() as u:
        li = await u.staff.add(StaffUser("li", "h", Role.STAFF, created_at=T0))
        zhao = await u.staff.add(StaffUser("zhao", "h", Role.STAFF, created_at=T0))
        target = await u.cases.add(case("261127-00001", citizen))
        await u.commit()
    assert li.id and zhao.id and target.id
    async with store.uow() as u:
        assert await u.claims.take(target.id, li.id, now=T0, until=T0 + hour)
        assert not await u.claims.take(target.id, zhao.id, now=T0, until=T0 + hour)
        assert await u.claims.take(target.id, li.id, now=T0 + hour / 2, until=T0 + 2 * hour)
        await u.commit()
    async with store.uow() as u:
        claim = await u.claims.of_case(target.id)
        assert claim is not None and (claim.holder, claim.claimed_at) == ("li", T0)
        assert claim.expires_at == T0 + 2 * hour
        assert list(await u.claims.of_cases([target.id, 999_999])) == [target.id]
        await u.claims.release(target.id, zhao.id)  # not theirs: nothing happens
        assert await u.claims.of_case(target.id) is not None
        # An expired claim goes to whoever takes the case next.
        assert await u.claims.take(target.id, zhao.id, now=T0 + 3 * hour, until=T0 + 4 * hour)
        await u.claims.release(target.id)
        await u.commit()
    async with store.uow() as u:
        assert await u.claims.of_case(target.id) is None


async def test_console_sessions(store: Store) -> None:
    async with store.uow() as u:
        li = await u.staff.add(StaffUser("li", "h", Role.STAFF, created_at=T0))
        assert li.id is not None
        old = ConsoleSession("old", li.id, "c0", T0 - timedelta(days=2), T0 - timedelta(days=1))
        await u.sessions.add(old)
        await u.commit()
    async with store.uow() as u:
        await u.sessions.add(ConsoleSession("new", li.id, "c1", T0, T0 + timedelta(hours=8)))
        await u.commit()
    async with store.uow() as u:
        assert await u.sessions.get("old") is None  # a sign-in forgets expired sessions
        found = await u.sessions.get("new")
        assert found is not None and found.user_id == li.id and found.csrf_token == "c1"
        await u.sessions.remove("new")
        await u.commit()
    async with store.uow() as u:
        assert await u.sessions.get("new") is None


async def test_login_failures_count_lock_and_clear(store: Store) -> None:
    policy = LockoutPolicy(max_failures=3, window=timedelta(minutes=15))
    async with store.uow() as u:
        assert await u.login_failures.get("li") is None
        counts = [
            await u.login_failures.record_failure(
                "li", now=T0 + timedelta(minutes=i), policy=policy
            )
            for i in range(3)
        ]
        await u.commit()
    assert [c.failures for c in counts] == [1, 2, 3]
    assert not counts[1].locked(T0) and counts[2].locked(T0 + timedelta(minutes=3))
    async with store.uow() as u:
        stored = await u.login_failures.get("li")
        assert stored is not None and stored.failures == 3 and stored.window_started_at == T0
        later = T0 + timedelta(hours=1)  # a new window starts at one
        assert (await u.login_failures.record_failure("li", now=later, policy=policy)).failures == 1
        await u.login_failures.clear("li")
        await u.commit()
    async with store.uow() as u:
        assert await u.login_failures.get("li") is None


async def test_canned_replies(store: Store) -> None:
    def reply(title: str, category: str | None) -> CannedReply:
        return CannedReply(title, f"{title}。", Language.ZH, T0, "admin", category)

    async with store.uow() as u:
        anyone = await u.canned_replies.save(reply("感谢", None))
        roads = await u.canned_replies.save(reply("道路", "roads"))
        await u.canned_replies.save(reply("噪音", "noise"))
        await u.commit()
    assert anyone.id and roads.id
    async with store.uow() as u:
        # The database comes with replies of its own (a migration's); ours are in order among them.
        every = [r.title for r in await u.canned_replies.all() if r.updated_by == "admin"]
        assert every == ["感谢", "噪音", "道路"]
        roads_first = [r.title for r in await u.canned_replies.for_category("roads")]
        assert roads_first[0] == "道路" and "感谢" in roads_first and "噪音" not in roads_first
        assert "道路" not in [r.title for r in await u.canned_replies.for_category(None)]
        roads.text = "已转交。"
        await u.canned_replies.save(roads)
        await u.canned_replies.remove(anyone.id)
        missing = reply("无", None)
        missing.id = 999_999
        with pytest.raises(NotFound):
            await u.canned_replies.save(missing)
        await u.commit()
    async with store.uow() as u:
        assert (await u.canned_replies.get(roads.id)).text == "已转交。"
        with pytest.raises(NotFound):
            await u.canned_replies.get(anyone.id)


# --- ports kept on SQL only ----------------------------------------------------------------------


@pytest.fixture
async def uow(uow_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    async with uow_factory() as u:
        await u.departments.sync(DEPARTMENTS)
        await u.commit()
    return uow_factory


async def _cases(uow: SqlUnitOfWorkFactory, *cases: Case) -> list[Case]:
    async with uow() as u:
        added = [await u.cases.add(c) for c in cases]
        await u.commit()
    return added


async def test_supervision_orders_are_read_with_their_case_and_reminded_once(
    uow: SqlUnitOfWorkFactory,
) -> None:
    citizen = await _citizen(uow)
    [target] = await _cases(uow, case("261127-00001", citizen, department="transport"))
    assert target.id is not None
    due = T0 + timedelta(days=1)
    async with uow() as u:
        order = await u.supervision.add(
            SupervisionOrder.issue(
                target.id, instruction="三日内答复", due_at=due, by="boss", at=T0
            )
        )
        await u.commit()
    assert order.id is not None
    later = due + timedelta(hours=1)
    async with uow() as u:
        stored = await u.supervision.get(order.id, lock=True)
        assert (stored.case_number, stored.department) == ("261127-00001", "transport")
        assert [o.id for o in await u.supervision.for_case(target.id)] == [order.id]
        overdue = await u.supervision.listing(status="overdue", department=None, now=later, limit=5)
        assert [o.id for o in overdue] == [order.id]
        assert (
            await u.supervision.listing(status="closed", department=None, now=later, limit=5) == []
        )
        hour = timedelta(hours=1)
        assert await u.supervision.claim_reminder(order.id, now=later, every=hour)
        assert not await u.supervision.claim_reminder(order.id, now=later, every=hour)
        await u.commit()
    async with uow() as u:
        assert (await u.supervision.get(order.id)).reminders == 1
        [counts] = await u.supervision.report(since=None, until=None, now=later)
        assert counts.department == "transport"


async def test_ownership_and_the_backlog(uow: SqlUnitOfWorkFactory) -> None:
    citizen = await _citizen(uow)
    old, new = await _cases(
        uow,
        case("261127-00001", citizen, department="transport"),
        case("261127-00002", citizen, department="housing_construction"),
    )
    assert old.id is not None and new.id is not None
    owner = CaseOwner(old.id, "王局长", "李主任", ["张三"], "先修再访", "boss", T0, T0)
    async with uow() as u:
        assert await u.ownership.get(old.id) is None
        await u.ownership.save(owner)
        await u.commit()
    async with uow() as u:
        assert await u.ownership.get(old.id) == owner
        owner.plan = "改期"
        await u.ownership.save(owner)
        await u.commit()
    async with uow() as u:
        assert (await u.ownership.get(old.id)) == owner
        backlog = await u.ownership.backlog(opened_before=T0, department=None, limit=5)
        assert [(e.case.number, e.leader) for e in backlog] == [
            ("261127-00001", "王局长"),
            ("261127-00002", None),
        ]
        mine = await u.ownership.backlog(opened_before=T0, department="transport", limit=5)
        assert [e.case.number for e in mine] == ["261127-00001"]


async def test_board_entries_and_the_consent_asked_of_a_citizen(uow: SqlUnitOfWorkFactory) -> None:
    citizen = await _citizen(uow)
    first, second = await _cases(uow, case("261127-00001", citizen), case("261127-00002", citizen))
    assert first.id is not None and second.id is not None
    async with uow() as u:
        for c, public_id in ((first, "p1"), (second, "p2")):
            assert c.id is not None
            entry = BoardEntry(c.id, public_id, BoardState.ASKED, None, filed_at=T0, updated_at=T0)
            await u.board.save(entry)
        await u.commit()
    async with uow() as u:
        asked = await u.board.asked_of(citizen)
        assert asked is not None and asked.public_id == "p2"  # the latest case
        asked.state, asked.consent = BoardState.DECLINED, False
        await u.board.save(asked)
        await u.commit()
    async with uow() as u:
        stored = await u.board.get(second.id)
        assert stored is not None and (stored.state, stored.consent) == (BoardState.DECLINED, False)
        again = await u.board.asked_of(citizen)
        assert again is not None and again.public_id == "p1"
        assert await u.board.published("p1") is None  # not listed, not closed


async def test_notifications_and_escalation_rungs(uow: SqlUnitOfWorkFactory) -> None:
    citizen = await _citizen(uow)
    [target] = await _cases(uow, case("261127-00001", citizen))
    assert target.id is not None
    async with uow() as u:
        note = await u.governance.notify(
            Notification(T0, "near_due", "clerk", "261127-00001", target.id, "transport")
        )
        await u.governance.notify(Notification(T0, "escalated", "department_head", "x"))
        assert await u.governance.claim_rung(target.id, 1, at=T0)
        assert not await u.governance.claim_rung(target.id, 1, at=T0)
        await u.commit()
    assert note.id is not None
    async with uow() as u:
        unread = await u.governance.notifications(
            audiences=["clerk"], department="transport", limit=5, unread_only=True
        )
        assert [n.id for n in unread] == [note.id]
        await u.governance.mark_read([note.id], at=T0)
        await u.commit()
    async with uow() as u:
        assert not await u.governance.notifications(
            audiences=["clerk"], department=None, limit=5, unread_only=True
        )
        every = await u.governance.notifications(
            audiences=["clerk", "department_head"], department=None, limit=5, unread_only=False
        )
        assert len(every) == 2 and every[1].read_at == T0


async def test_closed_cases_are_counted_per_channel(uow: SqlUnitOfWorkFactory) -> None:
    citizen = await _citizen(uow)
    closed, still_open = case("261127-00001", citizen), case("261127-00002", citizen)
    closed.status, closed.closed_at = CaseStatus.CLOSED, T0 + timedelta(hours=1)
    await _cases(uow, closed, still_open)
    async with uow() as u:
        counts = await u.stats.closed(since=T0, until=T0 + timedelta(days=1))
        assert counts == {"webchat": 1}
        assert (
            await u.stats.closed(since=T0 + timedelta(days=1), until=T0 + timedelta(days=2)) == {}
        )


def _batch(*people: tuple[str, str | None, str | None], at_hour: int = 0) -> Visit:
    return Visit(
        unit="341800",
        kind=VisitKind.CENTRE,
        received_at=T0 + timedelta(hours=at_hour),
        matter="拖欠工资",
        outcome=Outcome.ACCEPTED,
        visitors=[Visitor(name, id_number=idn, phone=phone) for name, idn, phone in people],
        leader="王建国",
        staff=["人社局 李"],
    )


async def test_visits_keep_each_person_once_and_find_their_history(store: Store) -> None:
    citizen = await _citizen(store.uow)
    async with store.uow() as u:
        opened = await u.cases.add(case("261127-00001", citizen))
        first = _batch(("甲", "110101199003070011", None), ("乙", None, "+8613900000002"))
        first.visitors = [await u.visits.person(p, at=T0) for p in first.visitors]
        first.case_ids = [opened.id or 0]
        await u.visits.add(first, "reg-1")
        await u.commit()
    async with store.uow() as u:
        # The same ID number with a phone learnt now: the same person, the phone kept.
        again = await u.visits.person(Visitor("甲", "110101199003070011", "+8613900000001"), at=T0)
        assert again.id == first.visitors[0].id
        history = await u.visits.earlier([Visitor("x", None, "+8613900000001")])
        assert history == [Earlier("341800", T0)]
        assert await u.visits.earlier([Visitor("x", "110101199003070099", "+8613999999999")]) == []
        loaded = await u.visits.by_register_id("reg-1")
        assert loaded is not None and loaded == await u.visits.get(first.id or 0)
        assert [p.name for p in loaded.visitors] == ["甲", "乙"]
        assert loaded.case_ids == [opened.id] and loaded.staff == ["人社局 李"]
        assert loaded.outcome == Outcome.ACCEPTED and loaded.people == 2
        assert [v.id for v in await u.visits.for_case(opened.id or 0)] == [first.id]
        assert await u.visits.between(T0, T0 + timedelta(hours=1)) == [loaded]
        assert await u.visits.between(T0, T0 + timedelta(hours=1), unit="341881") == []
        assert await u.visits.by_register_id("reg-2") is None
        known = await u.visits.who("110101199003070011")
        assert known is not None and known.phone == "+8613900000001"
        assert await u.visits.who("110101199003070099") is None
        with pytest.raises(NotFound):
            await u.visits.get(999_999)


async def test_appointments_fill_a_day_refuse_doubles_and_free_places(store: Store) -> None:
    day = T0.date() + timedelta(days=3)

    def booking(number: str, phone: str) -> Appointment:
        return Appointment(number, "341800", day, "工资", "sms", phone, booked_at=T0)

    async with store.uow() as u:
        await u.appointments.book(booking("A1", "+8613900000001"), capacity=2)
        await u.appointments.book(booking("A2", "+8613900000002"), capacity=2)
        await u.commit()
    async with store.uow() as u:
        with pytest.raises(AlreadyBooked):
            await u.appointments.book(booking("A3", "+8613900000001"), capacity=2)
        with pytest.raises(Full):
            await u.appointments.book(booking("A3", "+8613900000003"), capacity=2)
    async with store.uow() as u:
        cancelled = await u.appointments.by_number("A1", lock=True)
        assert cancelled is not None
        cancelled.status = AppointmentStatus.CANCELLED
        await u.appointments.save(cancelled)
        await u.appointments.book(booking("A3", "+8613900000003"), capacity=2)
        await u.commit()
    async with store.uow() as u:
        assert await u.appointments.booked("341800", day) == 2
        assert [a.number for a in await u.appointments.to_remind(day, limit=10)] == ["A2", "A3"]
        taken = await u.appointments.on_day(day, unit="341800")
        assert [a.status for a in taken] == ["cancelled", "booked", "booked"]
        assert await u.appointments.claim_reminder(taken[1].id or 0, at=T0)
        assert not await u.appointments.claim_reminder(taken[1].id or 0, at=T0)
        assert not await u.appointments.claim_reminder(taken[0].id or 0, at=T0)  # cancelled
        await u.commit()
    async with store.uow() as u:
        assert [a.number for a in await u.appointments.to_remind(day, limit=10)] == ["A3"]
        assert await u.appointments.by_number("nope") is None


async def test_rota_overrides_are_named_and_cleared(store: Store) -> None:
    day = T0.date()
    async with store.uow() as u:
        await u.rota.name_leader("341800", day, "戊", by="staff:a", at=T0)
        await u.rota.name_leader("341881", day, "己", by="staff:a", at=T0)
        await u.commit()
    async with store.uow() as u:
        await u.rota.name_leader("341800", day, "庚", by="staff:a", at=T0)
        await u.rota.name_leader("341881", day, None, by="staff:a", at=T0)
        await u.commit()
    async with store.uow() as u:
        assert await u.rota.overrides(day, day) == {("341800", day): "庚"}
        assert await u.rota.overrides(day + timedelta(days=1), day + timedelta(days=9)) == {}
