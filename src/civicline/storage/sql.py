"""SQLAlchemy adapters for the storage ports: repositories and the unit of work."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicline.domain.accounts import Role, StaffUser
from civicline.domain.cases import Case, CaseEvent, CaseStatus, EventKind
from civicline.domain.citizens import Citizen, ContactHandle
from civicline.domain.errors import NotFound
from civicline.domain.governance import Outcome, Satisfaction, VisitStatus
from civicline.domain.messages import (
    Channel,
    Choice,
    DeliveryStatus,
    InboundMessage,
    InboundStatus,
    Language,
    OutboundMessage,
)
from civicline.domain.taxonomy import Department
from civicline.storage.accounts import SqlLoginFailures, SqlSessions
from civicline.storage.base import (
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
    QueueView,
    SessionRepository,
    StaffRepository,
    StatsRepository,
    SupervisionRepository,
)
from civicline.storage.canned import SqlCannedReplies
from civicline.storage.case_numbers import next_numbers
from civicline.storage.claims import SqlClaims
from civicline.storage.dialogues import SqlDialogues
from civicline.storage.governance import SqlGovernance
from civicline.storage.incidents import SqlIncidents
from civicline.storage.letters import SqlLetters
from civicline.storage.reply_queue import SqlQueueView
from civicline.storage.stats import SqlStats
from civicline.storage.supervision import SqlOwnership, SqlSupervision
from civicline.storage.tables import (
    CaseEventRow,
    CaseRow,
    CitizenRow,
    ContactHandleRow,
    DepartmentRow,
    InboundMessageRow,
    OutboundMessageRow,
    StaffUserRow,
)


def _insert(session: AsyncSession, table: Any) -> Any:
    return insert_for(session.get_bind().dialect.name, table)


def insert_for(dialect: str, table: Any) -> Any:
    """An INSERT that knows ON CONFLICT on both of our dialects."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


class SqlCitizens:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, citizen_id: int) -> Citizen:
        row = await self.session.get(CitizenRow, citizen_id)
        if row is None:
            raise NotFound("citizen", citizen_id)
        return await self._load(row)

    async def by_handle(self, handle: ContactHandle) -> Citizen | None:
        row = await self.session.scalar(
            select(CitizenRow)
            .join(ContactHandleRow, ContactHandleRow.citizen_id == CitizenRow.id)
            .where(
                ContactHandleRow.channel == handle.channel,
                ContactHandleRow.address == handle.address,
            )
        )
        return None if row is None else await self._load(row)

    async def get_or_create(
        self, handle: ContactHandle, *, at: datetime, language: Language
    ) -> Citizen:
        found = await self.by_handle(handle)
        if found is not None:
            return found
        row = CitizenRow(language=language, created_at=at)
        self.session.add(row)
        await self.session.flush()
        # Two first messages from one new address may race: the unique handle decides.
        result = await self.session.execute(
            _insert(self.session, ContactHandleRow)
            .values(citizen_id=row.id, channel=handle.channel, address=handle.address)
            .on_conflict_do_nothing(index_elements=["channel", "address"])
            .returning(ContactHandleRow.id)
        )
        if result.scalar() is None:
            await self.session.delete(row)
            existing = await self.by_handle(handle)
            assert existing is not None
            return existing
        return Citizen(id=row.id, created_at=at, language=language, handles=[handle])

    async def set_language(self, citizen_id: int, language: Language) -> None:
        row = await self.session.get(CitizenRow, citizen_id)
        if row is None:
            raise NotFound("citizen", citizen_id)
        row.language = language

    async def link(self, citizen_id: int, handle: ContactHandle) -> bool:
        result = await self.session.execute(
            _insert(self.session, ContactHandleRow)
            .values(citizen_id=citizen_id, channel=handle.channel, address=handle.address)
            .on_conflict_do_nothing(index_elements=["channel", "address"])
            .returning(ContactHandleRow.id)
        )
        if result.scalar() is not None:
            return True
        owner = await self.session.scalar(
            select(ContactHandleRow.citizen_id).where(
                ContactHandleRow.channel == handle.channel,
                ContactHandleRow.address == handle.address,
            )
        )
        return owner == citizen_id

    async def set_opt_out(self, handle: ContactHandle, opted_out: bool) -> None:
        row = await self.session.scalar(
            select(ContactHandleRow).where(
                ContactHandleRow.channel == handle.channel,
                ContactHandleRow.address == handle.address,
            )
        )
        if row is None:
            raise NotFound("contact handle", handle.channel)
        row.opted_out = opted_out

    async def is_opted_out(self, handle: ContactHandle) -> bool:
        return bool(
            await self.session.scalar(
                select(ContactHandleRow.opted_out).where(
                    ContactHandleRow.channel == handle.channel,
                    ContactHandleRow.address == handle.address,
                )
            )
        )

    async def _load(self, row: CitizenRow) -> Citizen:
        handles = await self.session.scalars(
            select(ContactHandleRow).where(ContactHandleRow.citizen_id == row.id)
        )
        return Citizen(
            id=row.id,
            created_at=row.created_at,
            language=Language(row.language),
            display_name=row.display_name,
            handles=[ContactHandle(Channel(h.channel), h.address) for h in handles],
        )


def inbound_from_row(row: Any) -> InboundMessage:
    return InboundMessage(
        id=row.id,
        channel=Channel(row.channel),
        provider_message_id=row.provider_message_id,
        sender_address=row.sender_address,
        text=row.text,
        received_at=row.received_at,
        language=Language(row.language) if row.language else None,
        citizen_id=row.citizen_id,
        case_id=row.case_id,
        status=InboundStatus(row.status),
        attachments=list(row.attachments or []),
        location=(
            (row.latitude, row.longitude)
            if row.latitude is not None and row.longitude is not None
            else None
        ),
        choice=row.choice,
        shared_phone=row.shared_phone,
        edited=bool(row.edited),
        meta=dict(row.meta or {}),
    )


def inbound_values(message: InboundMessage) -> dict[str, Any]:
    """The inbox row's columns for a new message (the writer and the repository share it)."""
    latitude, longitude = message.location or (None, None)
    return {
        "channel": message.channel,
        "provider_message_id": message.provider_message_id,
        "sender_address": message.sender_address,
        "citizen_id": message.citizen_id,
        "text": message.text,
        "language": message.language,
        "attachments": message.attachments,
        "latitude": latitude,
        "longitude": longitude,
        "choice": message.choice,
        "shared_phone": message.shared_phone,
        "edited": message.edited,
        "meta": message.meta,
        "status": message.status,
        "received_at": message.received_at,
    }


class SqlInbox:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, message_id: int, *, lock: bool = False) -> InboundMessage:
        row = await self.session.get(InboundMessageRow, message_id, with_for_update=lock)
        if row is None:
            raise NotFound("inbound message", message_id)
        return inbound_from_row(row)

    async def save(self, message: InboundMessage, *, processed_at: datetime | None) -> None:
        row = await self.session.get(InboundMessageRow, message.id)
        if row is None:
            raise NotFound("inbound message", message.id)
        row.citizen_id = message.citizen_id
        row.case_id = message.case_id
        row.status = message.status
        row.language = message.language
        row.processed_at = processed_at

    async def link_case(self, message_ids: Iterable[int], case_id: int) -> None:
        ids = list(message_ids)
        if ids:
            await self.session.execute(
                update(InboundMessageRow)
                .where(InboundMessageRow.id.in_(ids))
                .values(case_id=case_id)
            )

    async def for_case(self, case_id: int) -> list[InboundMessage]:
        rows = await self.session.scalars(
            select(InboundMessageRow)
            .where(InboundMessageRow.case_id == case_id)
            .order_by(InboundMessageRow.id)
        )
        return [inbound_from_row(r) for r in rows]

    async def unprocessed_ids(self, *, received_before: datetime, limit: int) -> list[int]:
        rows = await self.session.scalars(
            select(InboundMessageRow.id)
            .where(
                InboundMessageRow.status == InboundStatus.RECEIVED,
                InboundMessageRow.received_at < received_before,
            )
            .order_by(InboundMessageRow.received_at)
            .limit(limit)
        )
        return list(rows)

    async def conversation(
        self, channel: Channel, address: str, *, limit: int
    ) -> list[InboundMessage]:
        rows = await self.session.scalars(
            select(InboundMessageRow)
            .where(
                InboundMessageRow.channel == channel,
                InboundMessageRow.sender_address == address,
            )
            .order_by(InboundMessageRow.id.desc())
            .limit(limit)
        )
        return [inbound_from_row(r) for r in reversed(list(rows))]


def _case(row: CaseRow, events: Sequence[CaseEventRow] = ()) -> Case:
    return Case(
        id=row.id,
        number=row.number,
        citizen_id=row.citizen_id,
        channel=Channel(row.channel),
        reply_to=row.reply_to,
        summary=row.summary,
        language=Language(row.language),
        created_at=row.created_at,
        updated_at=row.updated_at,
        accept_due_at=row.accept_due_at,
        complete_due_at=row.complete_due_at,
        category=row.category,
        department=row.department,
        status=CaseStatus(row.status),
        urgent=row.urgent,
        collective=row.collective,
        place=row.place,
        subcategory=row.subcategory,
        reply_channel=Channel(row.reply_channel) if row.reply_channel else None,
        reply_due_at=row.reply_due_at,
        accepted_at=row.accepted_at,
        first_reply_at=row.first_reply_at,
        closed_at=row.closed_at,
        paused_since=row.paused_since,
        outcome=Outcome(row.outcome) if row.outcome else None,
        legal_matter=row.legal_matter,
        satisfaction=Satisfaction(row.satisfaction) if row.satisfaction else None,
        solved=row.solved,
        visit_status=VisitStatus(row.visit_status) if row.visit_status else None,
        second_review=row.second_review,
        escalation_level=row.escalation_level,
        district=row.district,
        reporters=row.reporters,
        incident_signature=row.incident_signature,
        location=(
            (row.latitude, row.longitude)
            if row.latitude is not None and row.longitude is not None
            else None
        ),
        classified_by=row.classified_by,
        confidence=row.confidence,
        merged_into=row.merged_into,
        resolution=row.resolution,
        rating=row.rating,
        events=[
            CaseEvent(
                id=e.id,
                kind=EventKind(e.kind),
                at=e.at,
                actor=e.actor,
                from_status=CaseStatus(e.from_status) if e.from_status else None,
                to_status=CaseStatus(e.to_status) if e.to_status else None,
                reason=e.reason,
                data=dict(e.data or {}),
            )
            for e in events
        ],
    )


_CASE_FIELDS = (
    "category",
    "department",
    "status",
    "urgent",
    "collective",
    "place",
    "subcategory",
    "reply_channel",
    "reply_due_at",
    "accepted_at",
    "first_reply_at",
    "closed_at",
    "paused_since",
    "outcome",
    "legal_matter",
    "satisfaction",
    "solved",
    "visit_status",
    "second_review",
    "escalation_level",
    "district",
    "reporters",
    "incident_signature",
    "classified_by",
    "confidence",
    "merged_into",
    "resolution",
    "rating",
    "summary",
    "accept_due_at",
    "complete_due_at",
)


class SqlCases:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # The rows this unit of work read or added, kept alive (the session only holds them
        # weakly): saving a case then needs no SELECT of its row again.
        self._rows: dict[int, CaseRow] = {}

    async def next_number(self, day: date) -> str:
        [number] = await next_numbers(self.session, day, 1)
        return number

    async def next_numbers(self, day: date, count: int) -> list[str]:
        return await next_numbers(self.session, day, count)

    async def add(self, case: Case) -> Case:
        row = CaseRow(
            number=case.number,
            citizen_id=case.citizen_id,
            channel=case.channel,
            reply_to=case.reply_to,
            language=case.language,
            created_at=case.created_at,
            updated_at=case.updated_at or case.created_at,
            latitude=case.location[0] if case.location else None,
            longitude=case.location[1] if case.location else None,
            **{name: getattr(case, name) for name in _CASE_FIELDS},
        )
        self.session.add(row)
        await self.session.flush()
        case.id = row.id
        self._rows[row.id] = row
        self._write_events(case)
        return case

    async def get(self, case_id: int) -> Case:
        row = await self.session.get(CaseRow, case_id)
        if row is None:
            raise NotFound("case", case_id)
        self._rows[row.id] = row
        return _case(row)

    async def by_number(
        self, number: str, *, with_history: bool = False, lock: bool = False
    ) -> Case:
        stmt = select(CaseRow).where(CaseRow.number == number)
        if lock:  # what the lock guards is read afresh
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        row = await self.session.scalar(stmt)
        if row is None:
            raise NotFound("case", number)
        self._rows[row.id] = row
        events: Sequence[CaseEventRow] = ()
        if with_history:
            events = list(
                await self.session.scalars(
                    select(CaseEventRow)
                    .where(CaseEventRow.case_id == row.id)
                    .order_by(CaseEventRow.id)
                )
            )
        return _case(row, events)

    async def save(self, case: Case) -> None:
        row = self._rows.get(case.id or 0) or await self.session.get(CaseRow, case.id)
        if row is None:
            raise NotFound("case", case.number)
        for name in _CASE_FIELDS:
            setattr(row, name, getattr(case, name))
        row.updated_at = case.updated_at or row.updated_at
        self._write_events(case)

    def _write_events(self, case: Case) -> None:
        assert case.id is not None
        for event in case.pending_events:
            self.session.add(
                CaseEventRow(
                    case_id=case.id,
                    kind=event.kind,
                    at=event.at,
                    actor=event.actor,
                    from_status=event.from_status,
                    to_status=event.to_status,
                    reason=event.reason,
                    data=event.data,
                )
            )
        case.pending_events.clear()

    async def queue(
        self,
        *,
        statuses: Iterable[CaseStatus],
        department: str | None,
        limit: int,
        offset: int = 0,
    ) -> list[Case]:
        stmt = select(CaseRow).where(CaseRow.status.in_([str(s) for s in statuses]))
        if department is not None:
            stmt = stmt.where(CaseRow.department == department)
        stmt = stmt.order_by(CaseRow.complete_due_at, CaseRow.id).limit(limit).offset(offset)
        return [_case(r) for r in await self.session.scalars(stmt)]

    async def reports_merged_into(self, number: str) -> list[Case]:
        rows = await self.session.scalars(
            select(CaseRow).where(CaseRow.merged_into == number).order_by(CaseRow.id)
        )
        return [_case(r) for r in rows]

    async def for_citizen(
        self, citizen_id: int, *, statuses: Iterable[CaseStatus], limit: int
    ) -> list[Case]:
        rows = await self.session.scalars(
            select(CaseRow)
            .where(
                CaseRow.citizen_id == citizen_id,
                CaseRow.status.in_([str(s) for s in statuses]),
            )
            .order_by(CaseRow.id.desc())
            .limit(limit)
        )
        return [_case(r) for r in rows]

    async def numbers_by_id(self, case_ids: Iterable[int]) -> dict[int, str]:
        ids = set(case_ids)
        if not ids:
            return {}
        rows = await self.session.execute(
            select(CaseRow.id, CaseRow.number).where(CaseRow.id.in_(ids))
        )
        return {row.id: row.number for row in rows}


def _outbound(row: OutboundMessageRow) -> OutboundMessage:
    return OutboundMessage(
        id=row.id,
        channel=Channel(row.channel),
        recipient_address=row.recipient_address,
        text=row.text,
        created_at=row.created_at,
        updated_at=row.updated_at,
        case_id=row.case_id,
        citizen_id=row.citizen_id,
        in_reply_to=row.in_reply_to,
        author=row.author,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        provider_message_id=row.provider_message_id,
        last_error=row.last_error,
        choices=[Choice(label, data) for label, data in row.choices or []],
    )


class SqlOutbox:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, message: OutboundMessage) -> OutboundMessage:
        row = OutboundMessageRow(
            channel=message.channel,
            recipient_address=message.recipient_address,
            citizen_id=message.citizen_id,
            case_id=message.case_id,
            in_reply_to=message.in_reply_to,
            author=message.author,
            text=message.text,
            choices=[[c.label, c.data] for c in message.choices],
            status=message.status,
            attempts=message.attempts,
            created_at=message.created_at,
            updated_at=message.updated_at or message.created_at,
        )
        self.session.add(row)
        await self.session.flush()
        message.id = row.id
        return message

    async def get(self, message_id: int, *, lock: bool = False) -> OutboundMessage:
        row = await self.session.get(OutboundMessageRow, message_id, with_for_update=lock)
        if row is None:
            raise NotFound("outbound message", message_id)
        return _outbound(row)

    async def save(self, message: OutboundMessage) -> None:
        row = await self.session.get(OutboundMessageRow, message.id)
        if row is None:
            raise NotFound("outbound message", message.id)
        row.status = message.status
        row.attempts = message.attempts
        row.provider_message_id = message.provider_message_id
        row.last_error = message.last_error
        row.updated_at = message.updated_at or row.updated_at

    async def for_case(self, case_id: int) -> list[OutboundMessage]:
        rows = await self.session.scalars(
            select(OutboundMessageRow)
            .where(OutboundMessageRow.case_id == case_id)
            .order_by(OutboundMessageRow.id)
        )
        return [_outbound(r) for r in rows]

    async def conversation(
        self, channel: Channel, address: str, *, limit: int
    ) -> list[OutboundMessage]:
        rows = await self.session.scalars(
            select(OutboundMessageRow)
            .where(
                OutboundMessageRow.channel == channel,
                OutboundMessageRow.recipient_address == address,
            )
            .order_by(OutboundMessageRow.id.desc())
            .limit(limit)
        )
        return [_outbound(r) for r in reversed(list(rows))]

    async def callbacks(self, *, limit: int, offset: int = 0) -> list[OutboundMessage]:
        rows = await self.session.scalars(
            select(OutboundMessageRow)
            .where(
                OutboundMessageRow.channel == Channel.HOTLINE,
                OutboundMessageRow.status == DeliveryStatus.QUEUED,
            )
            .order_by(OutboundMessageRow.created_at, OutboundMessageRow.id)
            .limit(limit)
            .offset(offset)
        )
        return [_outbound(r) for r in rows]

    async def unfinished_ids(self, *, updated_before: datetime, limit: int) -> list[int]:
        rows = await self.session.scalars(
            select(OutboundMessageRow.id)
            .where(
                OutboundMessageRow.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.SENDING]),
                OutboundMessageRow.updated_at < updated_before,
                # Call-back tasks wait for people, not for a sender.
                OutboundMessageRow.channel != Channel.HOTLINE,
            )
            .order_by(OutboundMessageRow.updated_at)
            .limit(limit)
        )
        return list(rows)


def _staff(row: StaffUserRow) -> StaffUser:
    return StaffUser(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        role=Role(row.role),
        department=row.department,
        display_name=row.display_name,
        active=row.active,
        created_at=row.created_at,
    )


class SqlStaff:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, user: StaffUser) -> StaffUser:
        row = StaffUserRow(
            username=user.username,
            password_hash=user.password_hash,
            role=user.role,
            department=user.department,
            display_name=user.display_name,
            active=user.active,
            created_at=user.created_at,
        )
        self.session.add(row)
        await self.session.flush()
        user.id = row.id
        return user

    async def by_username(self, username: str) -> StaffUser | None:
        row = await self.session.scalar(
            select(StaffUserRow).where(StaffUserRow.username == username)
        )
        return None if row is None else _staff(row)

    async def get(self, user_id: int) -> StaffUser:
        row = await self.session.get(StaffUserRow, user_id)
        if row is None:
            raise NotFound("staff user", user_id)
        return _staff(row)

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count(StaffUserRow.id))) or 0)


class SqlDepartments:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sync(self, departments: Sequence[Department]) -> None:
        for dept in departments:
            stmt = _insert(self.session, DepartmentRow).values(
                code=dept.code, name_zh=dept.name_zh, name_en=dept.name_en
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=["code"],
                set_={"name_zh": dept.name_zh, "name_en": dept.name_en},
            )
            await self.session.execute(stmt)

    async def all(self) -> list[Department]:
        rows = await self.session.scalars(select(DepartmentRow).order_by(DepartmentRow.code))
        return [Department(r.code, r.name_zh, r.name_en) for r in rows]


class SqlUnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self.citizens: CitizenRepository = SqlCitizens(self.session)
        self.inbox: InboxRepository = SqlInbox(self.session)
        self.cases: CaseRepository = SqlCases(self.session)
        self.incidents: IncidentRepository = SqlIncidents(self.session)
        self.outbox: OutboxRepository = SqlOutbox(self.session)
        self.staff: StaffRepository = SqlStaff(self.session)
        self.departments: DepartmentRepository = SqlDepartments(self.session)
        self.dialogues: DialogueRepository = SqlDialogues(self.session)
        self.governance: GovernanceRepository = SqlGovernance(self.session)
        self.supervision: SupervisionRepository = SqlSupervision(self.session)
        self.ownership: OwnershipRepository = SqlOwnership(self.session, _case)
        self.claims: ClaimRepository = SqlClaims(self.session)
        self.sessions: SessionRepository = SqlSessions(self.session)
        self.login_failures: LoginFailureRepository = SqlLoginFailures(self.session)
        self.canned_replies: CannedReplyRepository = SqlCannedReplies(self.session)
        self.queue_view: QueueView = SqlQueueView(self.session, _case)
        self.stats: StatsRepository = SqlStats(self.session)
        self.letters: LetterRepository = SqlLetters(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.session.rollback()
        await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()
