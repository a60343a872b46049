"""In-memory implementations of storage ports: the inbox writer and job queue, for channel
tests that need no database or Redis, and a unit of work (``MemoryUnitOfWork`` over a
``MemoryStore``) for handler unit tests. The storage contract test
(tests/integration/test_storage_contract.py) runs them beside the SQL adapters."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self, cast

from civicline.domain.accounts import StaffUser
from civicline.domain.cases import Case, CaseEvent, CaseStatus
from civicline.domain.citizens import Citizen, ContactHandle
from civicline.domain.claims import CannedReply, Claim, ConsoleSession, LockoutPolicy, LoginFailures
from civicline.domain.dialogues import DIALOGUE_TIMEOUT, Dialogue
from civicline.domain.errors import NotFound
from civicline.domain.handing import Assignment, AssignmentState
from civicline.domain.messages import (
    Channel,
    DeliveryStatus,
    InboundMessage,
    InboundStatus,
    Language,
    OutboundMessage,
)
from civicline.domain.taxonomy import Department
from civicline.domain.units import Unit, UnitTree
from civicline.storage.base import (
    AppointmentRepository,
    AssignmentRepository,
    BoardRepository,
    CannedReplyRepository,
    CaseRepository,
    CitizenRepository,
    ClaimRepository,
    DepartmentRepository,
    DialogueRepository,
    GovernanceRepository,
    InboxRepository,
    IncidentRepository,
    LetterRepository,
    LoginFailureRepository,
    OutboxRepository,
    OwnershipRepository,
    QaRepository,
    QueueView,
    RotaRepository,
    SessionRepository,
    StaffRepository,
    StatsRepository,
    SupervisionRepository,
    UnitRepository,
    VisitRepository,
)
from tests.fakes.memory_visits import MemoryAppointments, MemoryRota, MemoryVisits


class MemoryInbox:
    """The inbox port: one row per (channel, provider message id). ``broken`` makes it fail
    like a database whose error text quotes the SQL parameters."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], InboundMessage] = {}
        self.broken = False

    async def add(self, message: InboundMessage) -> tuple[InboundMessage, bool]:
        if self.broken:
            raise RuntimeError(f"INSERT failed [parameters: ({message.text!r},)]")
        key = (str(message.channel), message.provider_message_id)
        if key in self.rows:
            return self.rows[key], False
        message.id = len(self.rows) + 1
        self.rows[key] = message
        return message, True

    @property
    def messages(self) -> list[InboundMessage]:
        return list(self.rows.values())


class MemoryQueue:
    """The job queue port: a job already queued is not queued again."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, int]] = []

    async def enqueue(
        self, job: str, key: int, *, defer_seconds: float = 0, ahead: bool = False
    ) -> bool:
        if (job, key) in self.jobs:
            return False
        self.jobs.append((job, key))
        return True


# --- the unit of work in memory -----------------------------------------------------------------

_GONE = object()


class MemoryStore:
    """What a database would hold, in dictionaries: the committed rows per table, and counters
    that, like database sequences, a rollback does not give back. ``writer`` is the inbox
    writer of the webhook path over the same store."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[Any, Any]] = {}
        self.counters: dict[Any, int] = {}
        self.writer = MemoryInboxWriter(self)

    def next(self, counter: Any) -> int:
        self.counters[counter] = self.counters.get(counter, 0) + 1
        return self.counters[counter]

    def uow(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)


class _Transaction:
    """Reads see the committed rows and this transaction's own writes; ``commit`` applies
    the writes in one go. Every value goes in and out as a copy, as rows would."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.writes: dict[str, dict[Any, Any]] = {}

    def get(self, table: str, key: Any) -> Any:
        written = self.writes.get(table, {})
        value = written[key] if key in written else self.store.tables.get(table, {}).get(key)
        return None if value is _GONE else copy.deepcopy(value)

    def put(self, table: str, key: Any, value: Any) -> None:
        self.writes.setdefault(table, {})[key] = copy.deepcopy(value)

    def delete(self, table: str, key: Any) -> None:
        self.writes.setdefault(table, {})[key] = _GONE

    def rows(self, table: str) -> list[Any]:
        """Every row of ``table`` in key order."""
        merged = {**self.store.tables.get(table, {}), **self.writes.get(table, {})}
        return [copy.deepcopy(v) for _, v in sorted(merged.items()) if v is not _GONE]

    def commit(self) -> None:
        for table, written in self.writes.items():
            rows = self.store.tables.setdefault(table, {})
            for key, value in written.items():
                if value is _GONE:
                    rows.pop(key, None)
                else:
                    rows[key] = value
        self.writes.clear()


class MemoryInboxWriter:
    """The webhook path's inbox writer (``InboxWriter``) over a ``MemoryStore``."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    async def add(self, message: InboundMessage) -> tuple[InboundMessage, bool]:
        tx = _Transaction(self.store)
        found = _find_inbound(tx, message.channel, message.provider_message_id)
        if found is not None:
            return found, False
        message.id = self.store.next("id")
        tx.put("inbox", message.id, message)
        tx.commit()
        return message, True


def _find_inbound(tx: _Transaction, channel: Channel, provider_id: str) -> InboundMessage | None:
    return next(
        (
            m
            for m in tx.rows("inbox")
            if m.channel == channel and m.provider_message_id == provider_id
        ),
        None,
    )


class MemoryCitizens:
    def __init__(self, tx: _Transaction) -> None:
        self.tx = tx

    async def get(self, citizen_id: int) -> Citizen:
        found: Citizen | None = self.tx.get("citizens", citizen_id)
        if found is None:
            raise NotFound("citizen", citizen_id)
        return found

    async def by_handle(self, handle: ContactHandle) -> Citizen | None:
        owner = self.tx.get("handles", _key(handle))
        return None if owner is None else await self.get(owner)

    async def get_or_create(
        self, handle: ContactHandle, *, at: datetime, language: Language
    ) -> Citizen:
        found = await self.by_handle(handle)
        if found is not None:
            return found
        citizen = Citizen(
            id=self.tx.store.next("id"), created_at=at, language=language, handles=[handle]
        )
        self.tx.put("citizens", citizen.id, citizen)
        self.tx.put("handles", _key(handle), citizen.id)
        return citizen

    async def set_language(self, citizen_id: int, language: Language) -> None:
        citizen = await self.get(citizen_id)
        citizen.language = language
        self.tx.put("citizens", citizen_id, citizen)

    async def link(self, citizen_id: int, handle: ContactHandle) -> bool:
        owner = self.tx.get("handles", _key(handle))
        if owner is not None:
            return bool(owner == citizen_id)
        citizen = await self.get(citizen_id)
        citizen.handles.append(handle)
        self.tx.put("citizens", citizen_id, citizen)
        self.tx.put("handles", _key(handle), citizen_id)
        return True

    async def set_opt_out(self, handle: ContactHandle, opted_out: bool) -> None:
        if self.tx.get("handles", _key(handle)) is None:
            raise NotFound("contact handle", handle.channel)
        self.tx.put("opted_out", _key(handle), opted_out)

    async def is_opted_out(self, handle: ContactHandle) -> bool:
        return bool(self.tx.get("opted_out", _key(handle)))

    async def opted_out(self, handles: Iterable[ContactHandle]) -> set[ContactHandle]:
        return {h for h in handles if await self.is_opted_out(h)}


def _key(handle: ContactHandle) -> tuple[str, str]:
    return (str(handle.channel), handle.address)


class MemoryInboxRepository:
    def __init__(self, tx: _Transaction) -> None:
        self.tx = tx

    async def get(self, message_id: int, *, lock: bool = False) -> InboundMessage:
        found: InboundMessage | None = self.tx.get("inbox", message_id)
        if found is None:
            raise NotFound("inbound message", message_id)
        return found

    async def save(self, message: InboundMessage, *, processed_at: datetime | None) -> None:
        stored = await self.get(message.id or 0)
        stored.citizen_id, stored.case_id = message.citizen_id, message.case_id
        stored.status, stored.language = message.status, message.language
        self.tx.put("inbox", stored.id, stored)

    async def link_case(self, message_ids: Iterable[int], case_id: int) -> None:
        for message_id in message_ids:
            stored = await self.get(message_id)
            stored.case_id = case_id
            self.tx.put("inbox", message_id, stored)

    async def for_case(self, case_id: int) -> list[InboundMessage]:
        return [m for m in self.tx.rows("inbox") if m.case_id == case_id]

    async def unprocessed_ids(self, *, received_before: datetime, limit: int) -> list[int]:
        waiting = [
            m
            for m in self.tx.rows("inbox")
            if m.status == InboundStatus.RECEIVED and m.received_at < received_before
        ]
        return [m.id for m in sorted(waiting, key=lambda m: m.received_at)][:limit]

    async def conversation(
        self, channel: Channel, address: str, *, limit: int
    ) -> list[InboundMessage]:
        mine = [
            m for m in self.tx.rows("inbox") if m.channel == channel and m.sender_address == address
        ]
        return mine[-limit:] if limit else []


class MemoryCases:
    def __init__(self, tx: _Transaction) -> None:
        self.tx = tx

    async def next_number(self, day: date) -> str:
        [number] = await self.next_numbers(day, 1)
        return number

    async def next_numbers(self, day: date, count: int) -> list[str]:
        return [f"{day:%y%m%d}-{self.tx.store.next(day):05d}" for _ in range(count)]

    async def add(self, case: Case) -> Case:
        case.id = self.tx.store.next("id")
        case.updated_at = case.updated_at or case.created_at
        self._write(case)
        return case

    async def get(self, case_id: int) -> Case:
        found: Case | None = self.tx.get("cases", case_id)
        if found is None:
            raise NotFound("case", case_id)
        return found

    async def by_number(
        self, number: str, *, with_history: bool = False, lock: bool = False
    ) -> Case:
        found: Case | None = next((c for c in self.tx.rows("cases") if c.number == number), None)
        if found is None:
            raise NotFound("case", number)
        if with_history:
            found.events = self.tx.get("case_events", found.id) or []
        return found

    async def save(self, case: Case) -> None:
        stored = await self.get(case.id or 0)
        self._write(replace(case, updated_at=case.updated_at or stored.updated_at))

    def _write(self, case: Case) -> None:
        events: list[CaseEvent] = self.tx.get("case_events", case.id) or []
        events += [replace(e, id=self.tx.store.next("id")) for e in case.pending_events]
        case.pending_events.clear()
        self.tx.put("case_events", case.id, events)
        self.tx.put("cases", case.id, replace(case, events=[], pending_events=[]))

    async def queue(
        self,
        *,
        statuses: Iterable[CaseStatus],
        department: str | None,
        limit: int,
        offset: int = 0,
        unit: str | None = None,
    ) -> list[Case]:
        wanted = set(statuses)
        found = [
            c
            for c in self.tx.rows("cases")
            if c.status in wanted and (department is None or c.department == department)
        ]
        if unit is not None:  # a unit's path: its subtree's departments
            paths = {u.code: u.path for u in self.tx.rows("units")}
            inside = {
                d.code
                for d in self.tx.rows("departments")
                if d.unit is not None and paths.get(d.unit, "").startswith(unit)
            }
            found = [c for c in found if c.department in inside]
        found.sort(key=lambda c: (c.complete_due_at, c.id))
        return found[offset : offset + limit]

    async def reports_merged_into(self, number: str) -> list[Case]:
        return [c for c in self.tx.rows("cases") if c.merged_into == number]

    async def for_citizen(
        self, citizen_id: int, *, statuses: Iterable[CaseStatus], limit: int
    ) -> list[Case]:
        wanted = set(statuses)
        found = [
            c for c in self.tx.rows("cases") if c.citizen_id == citizen_id and c.status in wanted
        ]
        return found[::-1][:limit]

    async def numbers_by_id(self, case_ids: Iterable[int]) -> dict[int, str]:
        ids = set(case_ids)
        return {c.id: c.number for c in self.tx.rows("cases") if c.id in ids}


class MemoryOutbox:
    def __init__(self, tx: _Transaction) -> None:
        self.tx = tx

    async def add(self, message: OutboundMessage) -> OutboundMessage:
        message.id = self.tx.store.next("id")
        message.updated_at = message.updated_at or message.created_at
        self.tx.put("outbox", message.id, message)
        return message

    async def get(self, message_id: int, *, lock: bool = False) -> OutboundMessage:
        found: OutboundMessage | None = self.tx.get("outbox", message_id)
        if found is None:
            raise NotFound("outbound message", message_id)
        return found

    async def save(self, message: OutboundMessage) -> None:
        stored = await self.get(message.id or 0)
        stored.status, stored.attempts = message.status, message.attempts
        stored.provider_message_id = message.provider_message_id
        stored.last_error = message.last_error
        stored.updated_at = message.updated_at or stored.updated_at
        self.tx.put("outbox", stored.id, stored)

    async def get_many(self, ids: Iterable[int], *, lock: bool = False) -> list[OutboundMessage]:
        return [await self.get(i, lock=lock) for i in sorted(set(ids))]

    async def save_many(self, messages: Sequence[OutboundMessage]) -> None:
        for message in messages:
            await self.save(message)

    async def for_case(self, case_id: int) -> list[OutboundMessage]:
        return [m for m in self.tx.rows("outbox") if m.case_id == case_id]

    async def conversation(
        self, channel: Channel, address: str, *, limit: int
    ) -> list[OutboundMessage]:
        mine = [
            m
            for m in self.tx.rows("outbox")
            if m.channel == channel and m.recipient_address == address
        ]
        return mine[-limit:] if limit else []

    async def unfinished_ids(self, *, updated_before: datetime, limit: int) -> list[int]:
        waiting = [
            m
            for m in self.tx.rows("outbox")
            if m.status in (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)
            and m.updated_at is not None
            and m.updated_at < updated_before
            and m.channel != Channel.HOTLINE  # call-back tasks wait for people
        ]
        return [m.id for m in sorted(waiting, key=lambda m: m.updated_at)][:limit]

    async def callbacks(self, *, limit: int, offset: int = 0) -> list[OutboundMessage]:
        tasks = [
            m
            for m in self.tx.rows("outbox")
            if m.channel == Channel.HOTLINE and m.status == DeliveryStatus.QUEUED
        ]
        tasks.sort(key=lambda m: (m.created_at, m.id))
        return tasks[offset : offset + limit]


class MemoryStaff:
    def __init__(self, tx: _Transaction) -> None:
        self.tx = tx

    async def add(self, user: StaffUser) -> StaffUser:
        user.id = self.tx.store.next("id")
        self.tx.put("staff", user.id, user)
        return user

    async def by_username(self, username: str) -> StaffUser | None:
        return next((u for u in self.tx.rows("staff") if u.username == username), None)

    async def get(self, user_id: int) -> StaffUser:
        found: StaffUser | None = self.tx.get("staff", user_id)
        if found is None:
            raise NotFound("staff user", user_id)
        return found

    async def count(self) -> int:
        return len(self.tx.rows("staff"))


class MemoryDepartments:
    def __init__(self, tx: _Transaction) -> None:
        self.tx = tx

    async def sync(self, departments: Sequence[Department]) -> None:
        for department in departments:
            self.tx.put("departments", department.code, department)

    async def all(self) -> list[Department]:
        return list(self.tx.rows("departments"))


class MemoryUnits:
    def __init__(self, tx: _Transaction) -> None:
        self.tx = tx

    async def sync(self, tree: UnitTree) -> None:
        for unit in tree:
            self.tx.put("units", unit.code, unit)

    async def all(self) -> list[Unit]:
        return sorted(self.tx.rows("units"), key=lambda unit: unit.path)


class MemoryDialogues:
    def __init__(self, tx: _Transaction) -> None:
        self.tx = tx

    async def get(self, handle: ContactHandle, *, lock: bool = False) -> Dialogue | None:
        found: Dialogue | None = self.tx.get("dialogues", _key(handle))
        return found

    async def save(self, dialogue: Dialogue) -> None:
        self.tx.put("dialogues", _key(dialogue.handle), dialogue)

    async def clear(self, handle: ContactHandle) -> None:
        self.tx.delete("dialogues", _key(handle))

    async def expired(self, *, now: datetime, limit: int) -> list[ContactHandle]:
        old = [d for d in self.tx.rows("dialogues") if d.updated_at <= now - DIALOGUE_TIMEOUT]
        return [d.handle for d in sorted(old, key=lambda d: d.updated_at)][:limit]


class MemoryClaims:
    """Claims as the SQL adapter keeps them; racing transactions are not serialised here (the
    SQL contract tests the races)."""

    def __init__(self, tx: _Transaction) -> None:
        self.tx = tx

    async def take(self, case_id: int, holder_id: int, *, now: datetime, until: datetime) -> bool:
        current: tuple[int, datetime, datetime] | None = self.tx.get("claims", case_id)
        if current is not None and current[0] != holder_id and current[2] > now:
            return False
        # A renewal keeps the time the holder first took the case.
        claimed_at = current[1] if current is not None and current[0] == holder_id else now
        self.tx.put("claims", case_id, (holder_id, claimed_at, until))
        return True

    async def release(self, case_id: int, holder_id: int | None = None) -> None:
        current = self.tx.get("claims", case_id)
        if current is not None and holder_id in (None, current[0]):
            self.tx.delete("claims", case_id)

    async def of_case(self, case_id: int) -> Claim | None:
        return (await self.of_cases([case_id])).get(case_id)

    async def of_cases(self, case_ids: Iterable[int]) -> dict[int, Claim]:
        claims = {}
        for case_id in set(case_ids):
            current = self.tx.get("claims", case_id)
            if current is not None:
                holder_id, claimed_at, expires_at = current
                holder = self.tx.get("staff", holder_id)
                claims[case_id] = Claim(case_id, holder_id, holder.username, claimed_at, expires_at)
        return claims


class MemoryAssignments:
    def __init__(self, tx: _Transaction) -> None:
        self.tx = tx

    async def of_case(self, case_id: int) -> list[Assignment]:
        return [a for a in self.tx.rows("assignments") if a.case_id == case_id]

    async def get(self, assignment_id: int) -> Assignment | None:
        found: Assignment | None = self.tx.get("assignments", assignment_id)
        return found

    async def save(self, assignment: Assignment) -> Assignment:
        if assignment.id is None:
            assignment.id = self.tx.store.next("assignments")
        self.tx.put("assignments", assignment.id, assignment)
        return assignment

    async def late(self, *, now: datetime, limit: int) -> list[int]:
        late = [
            a
            for a in self.tx.rows("assignments")
            if a.state == AssignmentState.HOLDING
            and a.parent_id is not None
            and a.escalated_at is None
            and a.due_at < now
        ]
        return [a.id for a in sorted(late, key=lambda a: a.due_at)][:limit]

    async def mark_escalated(self, assignment_id: int, *, at: datetime) -> bool:
        found = await self.get(assignment_id)
        if found is None or found.escalated_at is not None:
            return False
        found.escalated_at = at
        self.tx.put("assignments", assignment_id, found)
        return True


class MemorySessions:
    def __init__(self, tx: _Transaction) -> None:
        self.tx = tx

    async def add(self, console_session: ConsoleSession) -> None:
        # A sign-in is a good moment to forget the user's expired sessions.
        for old in self.tx.rows("sessions"):
            if old.user_id == console_session.user_id and (
                old.expires_at <= console_session.created_at
            ):
                self.tx.delete("sessions", old.id)
        self.tx.put("sessions", console_session.id, console_session)

    async def get(self, session_id: str) -> ConsoleSession | None:
        found: ConsoleSession | None = self.tx.get("sessions", session_id)
        return found

    async def remove(self, session_id: str) -> None:
        self.tx.delete("sessions", session_id)


class MemoryLoginFailures:
    def __init__(self, tx: _Transaction) -> None:
        self.tx = tx

    async def get(self, username: str) -> LoginFailures | None:
        found: LoginFailures | None = self.tx.get("login_failures", username)
        return found

    async def record_failure(
        self, username: str, *, now: datetime, policy: LockoutPolicy
    ) -> LoginFailures:
        current = await self.get(username)
        if current is None or current.window_started_at <= now - policy.window:
            counted = LoginFailures(
                username, 1, now, current.locked_until if current is not None else None
            )
        else:
            counted = replace(current, failures=current.failures + 1)
        if counted.failures >= policy.max_failures:
            counted = replace(counted, locked_until=now + policy.lock_for)
        self.tx.put("login_failures", username, counted)
        return counted

    async def clear(self, username: str) -> None:
        self.tx.delete("login_failures", username)


class MemoryCannedReplies:
    def __init__(self, tx: _Transaction) -> None:
        self.tx = tx

    async def all(self) -> list[CannedReply]:
        replies: list[CannedReply] = self.tx.rows("canned_replies")
        return sorted(
            replies,
            key=lambda r: (r.category is not None, r.category or "", r.language, r.id or 0),
        )

    async def for_category(self, category: str | None) -> list[CannedReply]:
        """The category's own answers first, then those for any category."""
        replies: list[CannedReply] = self.tx.rows("canned_replies")
        fitting = [
            r for r in replies if r.category is None or (category and r.category == category)
        ]
        return sorted(fitting, key=lambda r: (r.category is None, r.id or 0))

    async def get(self, reply_id: int) -> CannedReply:
        found: CannedReply | None = self.tx.get("canned_replies", reply_id)
        if found is None:
            raise NotFound("canned reply", reply_id)
        return found

    async def save(self, reply: CannedReply) -> CannedReply:
        if reply.id is not None:
            await self.get(reply.id)
        else:
            reply.id = self.tx.store.next("id")
        self.tx.put("canned_replies", reply.id, reply)
        return reply

    async def remove(self, reply_id: int) -> None:
        self.tx.delete("canned_replies", reply_id)


class _NotInMemory:
    """A port the memory unit of work does not keep: any use fails, naming it (the SQL
    adapters and their contract tests cover it)."""

    def __init__(self, port: str) -> None:
        self.port = port

    def __getattr__(self, name: str) -> Any:
        raise NotImplementedError(f"MemoryUnitOfWork has no {self.port} ({name})")


class MemoryUnitOfWork:
    """The ``UnitOfWork`` port in memory, for handler unit tests: one transaction over a
    ``MemoryStore``, rolled back unless committed. Kept: citizens, inbox, cases, outbox, staff,
    departments, units, dialogues, claims, sessions, login failures, canned replies, visits,
    appointments, rota overrides and assignments; the query-heavy ports (incidents, governance,
    supervision, ownership, the queue view, stats, letters, the board) are SQL only."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    async def __aenter__(self) -> Self:
        self._tx = tx = _Transaction(self.store)
        self.citizens: CitizenRepository = MemoryCitizens(tx)
        self.inbox: InboxRepository = MemoryInboxRepository(tx)
        self.cases: CaseRepository = MemoryCases(tx)
        self.assignments: AssignmentRepository = MemoryAssignments(tx)
        self.outbox: OutboxRepository = MemoryOutbox(tx)
        self.staff: StaffRepository = MemoryStaff(tx)
        self.departments: DepartmentRepository = MemoryDepartments(tx)
        self.units: UnitRepository = MemoryUnits(tx)
        self.dialogues: DialogueRepository = MemoryDialogues(tx)
        self.claims: ClaimRepository = MemoryClaims(tx)
        self.sessions: SessionRepository = MemorySessions(tx)
        self.login_failures: LoginFailureRepository = MemoryLoginFailures(tx)
        self.canned_replies: CannedReplyRepository = MemoryCannedReplies(tx)
        self.incidents: IncidentRepository = cast(Any, _NotInMemory("incidents"))
        self.governance: GovernanceRepository = cast(Any, _NotInMemory("governance"))
        self.supervision: SupervisionRepository = cast(Any, _NotInMemory("supervision"))
        self.ownership: OwnershipRepository = cast(Any, _NotInMemory("ownership"))
        self.queue_view: QueueView = cast(Any, _NotInMemory("queue_view"))
        self.stats: StatsRepository = cast(Any, _NotInMemory("stats"))
        self.letters: LetterRepository = cast(Any, _NotInMemory("letters"))
        self.board: BoardRepository = cast(Any, _NotInMemory("board"))
        self.qa: QaRepository = cast(Any, _NotInMemory("qa"))
        self.visits: VisitRepository = MemoryVisits(tx)
        self.appointments: AppointmentRepository = MemoryAppointments(tx)
        self.rota: RotaRepository = MemoryRota(tx)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._tx.writes.clear()

    async def commit(self) -> None:
        self._tx.commit()
