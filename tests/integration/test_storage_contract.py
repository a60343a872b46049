"""The storage port's contract, run against SQLite and the real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from civicline.domain.accounts import Role, StaffUser
from civicline.domain.cases import AWAITING_REPLY, CaseStatus, EventKind
from civicline.domain.citizens import ContactHandle
from civicline.domain.errors import NotFound
from civicline.domain.messages import Channel, DeliveryStatus, InboundStatus, Language
from civicline.storage.database import UnstorableText
from civicline.storage.intake import SqlInboxWriter
from tests.support.factories import DEPARTMENTS, T0, case, inbound, outbound
from tests.support.places import SqlUnitOfWorkFactory


@pytest.fixture
async def uow(uow_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    async with uow_factory() as u:
        await u.departments.sync(DEPARTMENTS)
        await u.commit()
    return uow_factory


async def _citizen(uow_factory: SqlUnitOfWorkFactory, address: str = "conv-1") -> int:
    async with uow_factory() as u:
        citizen = await u.citizens.get_or_create(
            ContactHandle(Channel.WEBCHAT, address), at=T0, language=Language.ZH
        )
        await u.commit()
    assert citizen.id is not None
    return citizen.id


async def test_inbox_stores_a_provider_message_once(uow: SqlUnitOfWorkFactory) -> None:
    writer = SqlInboxWriter(uow.engine)
    first, created = await writer.add(inbound("m1"))
    again, created_again = await writer.add(inbound("m1", text="另一条"))
    other, created_other = await writer.add(inbound("m2"))
    assert (created, created_again, created_other) == (True, False, True)
    assert again.id == first.id and again.text == "路灯坏了"
    assert other.id != first.id


async def test_inbox_batches_concurrent_writes_and_duplicates(uow: SqlUnitOfWorkFactory) -> None:
    writer = SqlInboxWriter(uow.engine)
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
    async with uow() as u:
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


async def test_inbox_tracks_unprocessed_messages(uow: SqlUnitOfWorkFactory) -> None:
    writer = SqlInboxWriter(uow.engine)
    a, _ = await writer.add(inbound("a"))
    b, _ = await writer.add(inbound("b"))
    async with uow() as u:
        b.status = InboundStatus.PROCESSED
        await u.inbox.save(b, processed_at=T0)
        await u.commit()
    async with uow() as u:
        later = T0 + timedelta(seconds=1)
        assert await u.inbox.unprocessed_ids(received_before=later, limit=10) == [a.id]
        assert await u.inbox.unprocessed_ids(received_before=T0, limit=10) == []
        stored = await u.inbox.get(a.id or 0)
    assert stored.received_at == T0 and stored.received_at.tzinfo is not None


async def test_nothing_is_kept_without_commit(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        await u.outbox.add(outbound())
    async with uow() as u:
        assert await u.outbox.unfinished_ids(updated_before=T0 + timedelta(days=1), limit=10) == []


async def test_one_citizen_per_handle(uow: SqlUnitOfWorkFactory) -> None:
    first = await _citizen(uow, "conv-1")
    again = await _citizen(uow, "conv-1")
    other = await _citizen(uow, "conv-2")
    assert first == again != other
    async with uow() as u:
        citizen = await u.citizens.get(first)
        assert citizen.handle_on(Channel.WEBCHAT) == ContactHandle(Channel.WEBCHAT, "conv-1")
        assert await u.citizens.by_handle(ContactHandle(Channel.SMS, "+8613800000000")) is None
        with pytest.raises(NotFound):
            await u.citizens.get(999_999)


async def test_case_numbers_are_sequential_per_day_and_unique_under_concurrency(
    uow: SqlUnitOfWorkFactory,
) -> None:
    day = date(2026, 11, 27)

    async def take() -> str:
        async with uow() as u:
            number = await u.cases.next_number(day)
            await u.commit()
            return number

    numbers = [await take() for _ in range(3)]
    assert numbers == ["261127-00001", "261127-00002", "261127-00003"]
    many = await asyncio.gather(*(take() for _ in range(20)))
    assert len(set(many)) == 20
    assert sorted(many)[-1] == "261127-00023"
    async with uow() as u:
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


async def test_case_and_its_history_round_trip(uow: SqlUnitOfWorkFactory) -> None:
    citizen = await _citizen(uow)
    new = case("261127-00001", citizen)
    new.assign("housing_construction", actor="system", at=T0, reason="routed")
    async with uow() as u:
        await u.cases.add(new)
        await u.commit()
    assert new.pending_events == []
    async with uow() as u:
        loaded = await u.cases.by_number("261127-00001", with_history=True)
        loaded.forward(
            "transport", actor="staff:li", at=T0 + timedelta(hours=1), reason="是道路问题"
        )
        await u.cases.save(loaded)
        await u.commit()
    async with uow() as u:
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


async def test_reply_queue_orders_by_deadline_and_filters(uow: SqlUnitOfWorkFactory) -> None:
    citizen = await _citizen(uow)
    async with uow() as u:
        for i, (days, dept) in enumerate(
            [(5, "housing_construction"), (2, "housing_construction"), (1, "transport"), (3, None)]
        ):
            c = case(f"261127-0000{i + 1}", citizen, due_in_days=days)
            if dept:
                c.assign(dept, actor="system", at=T0)
            await u.cases.add(c)
        await u.commit()
    async with uow() as u:
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


async def test_outbox_tracks_delivery(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        message = await u.outbox.add(outbound())
        await u.commit()
    assert message.id is not None
    async with uow() as u:
        stored = await u.outbox.get(message.id, lock=True)
        stored.status = DeliveryStatus.SENDING
        stored.attempts = 1
        stored.last_error = "timeout"
        stored.updated_at = T0 + timedelta(minutes=1)
        await u.outbox.save(stored)
        await u.commit()
    async with uow() as u:
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


async def test_staff_accounts(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        assert await u.staff.count() == 0
        user = await u.staff.add(
            StaffUser("li", "hash", Role.STAFF, created_at=T0, department="transport")
        )
        await u.commit()
    async with uow() as u:
        found = await u.staff.by_username("li")
        assert found is not None and found.id == user.id and found.role == Role.STAFF
        assert await u.staff.by_username("wang") is None
        assert await u.staff.count() == 1
        assert [d.code for d in await u.departments.all()] == sorted(d.code for d in DEPARTMENTS)
