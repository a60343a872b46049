"""Storage ports. Handlers depend on these; SQL and Redis adapters implement them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from civicline.domain.accounts import StaffUser
from civicline.domain.board import BoardEntry, BoardQuery, PublicCase
from civicline.domain.cases import Case, CaseStatus
from civicline.domain.citizens import Citizen, ContactHandle
from civicline.domain.claims import (
    CannedReply,
    Claim,
    ConsoleSession,
    LockoutPolicy,
    LoginFailures,
    QueueFilter,
)
from civicline.domain.dialogues import Dialogue
from civicline.domain.governance import Notification
from civicline.domain.handing import Assignment
from civicline.domain.incidents import Candidate, Suggestion
from civicline.domain.letters import Letter
from civicline.domain.messages import Channel, InboundMessage, Language, OutboundMessage
from civicline.domain.ownership import BacklogEntry, CaseOwner
from civicline.domain.qa import QaAnswer, QaQuestion, QaSession, SessionStatus
from civicline.domain.supervision import SupervisionCounts, SupervisionOrder
from civicline.domain.taxonomy import Department
from civicline.domain.units import Unit, UnitTree
from civicline.domain.visits import Appointment, Earlier, Visit, Visitor
from civicline.storage.history import FiledBatch, PastCall, ReceiptText
from civicline.storage.reply_queue import QueuePage
from civicline.storage.stats import (
    BacklogCounts,
    BacklogGroup,
    ReportGroup,
    ReportPeriod,
    ReportRow,
)
from civicline.storage.supervision import OrderFilter


class CitizenRepository(Protocol):
    async def get(self, citizen_id: int) -> Citizen: ...
    async def by_handle(self, handle: ContactHandle) -> Citizen | None: ...
    async def get_or_create(
        self, handle: ContactHandle, *, at: datetime, language: Language
    ) -> Citizen: ...
    async def set_language(self, citizen_id: int, language: Language) -> None: ...
    async def link(self, citizen_id: int, handle: ContactHandle) -> bool:
        """Give the citizen another handle; False when it already belongs to someone else."""
        ...

    async def set_opt_out(self, handle: ContactHandle, opted_out: bool) -> None: ...
    async def is_opted_out(self, handle: ContactHandle) -> bool:
        """True after the citizen sent STOP on this handle (until START)."""
        ...

    async def opted_out(self, handles: Iterable[ContactHandle]) -> set[ContactHandle]:
        """Those of ``handles`` that ``is_opted_out``, in one look-up."""
        ...


class HistoryStore(Protocol):
    """Where a bulk import of past calls files them, a batch a transaction
    (``storage.history``)."""

    async def checkpoint(self, source: str) -> int:
        """How many records of ``source`` (a file's identity) earlier runs committed."""
        ...

    async def file(
        self,
        calls: Sequence[PastCall],
        *,
        source: str,
        rows_done: int | None,
        receipt_text: ReceiptText,
        now: datetime,
    ) -> FiledBatch:
        """File the calls not filed before (by call id) and record ``rows_done`` (None: the
        file is finished, its checkpoint goes), atomically."""
        ...


class HitCounter(Protocol):
    """A rate limit: counts one hit per key given; True for each key still within its limit."""

    async def count(self, keys: Sequence[str]) -> list[bool]: ...


class InboxWriter(Protocol):
    """Where webhooks store what arrives; committed when ``add`` returns."""

    async def add(self, message: InboundMessage) -> tuple[InboundMessage, bool]:
        """Store once per (channel, provider message id); returns the row and whether it is new."""
        ...


class LimitedInboxWriter(InboxWriter, Protocol):
    """An inbox writer that also counts rate-limit hits with its stores (the web chat's)."""

    async def add_within(
        self, message: InboundMessage, limit: HitCounter, key: str
    ) -> tuple[InboundMessage, bool] | None:
        """Count a hit on ``key`` in ``limit``, then ``add`` the message; None (nothing
        stored) when the hit is over the limit."""
        ...


class InboxRepository(Protocol):
    async def get(self, message_id: int, *, lock: bool = False) -> InboundMessage: ...
    async def save(self, message: InboundMessage, *, processed_at: datetime | None) -> None: ...
    async def for_case(self, case_id: int) -> list[InboundMessage]: ...
    async def link_case(self, message_ids: Iterable[int], case_id: int) -> None: ...
    async def unprocessed_ids(self, *, received_before: datetime, limit: int) -> list[int]: ...
    async def conversation(
        self, channel: Channel, address: str, *, limit: int
    ) -> list[InboundMessage]: ...


class CaseRepository(Protocol):
    async def next_number(self, day: date) -> str: ...
    async def next_numbers(self, day: date, count: int) -> list[str]:
        """Unique and increasing within ``day``; a rolled-back transaction may leave a gap."""
        ...

    async def add(self, case: Case) -> Case: ...
    async def get(self, case_id: int) -> Case: ...
    async def by_number(
        self, number: str, *, with_history: bool = False, lock: bool = False
    ) -> Case: ...
    async def save(self, case: Case) -> None: ...
    async def queue(
        self,
        *,
        statuses: Iterable[CaseStatus],
        department: str | None,
        limit: int,
        offset: int = 0,
        unit: str | None = None,
    ) -> list[Case]:
        """Cases in the given states, earliest completion deadline first."""
        ...

    async def reports_merged_into(self, number: str) -> list[Case]:
        """The cases merged into ``number``: its incident's other reporters."""
        ...

    async def for_citizen(
        self, citizen_id: int, *, statuses: Iterable[CaseStatus], limit: int
    ) -> list[Case]:
        """The citizen's cases in these states, newest first."""
        ...

    async def numbers_by_id(self, case_ids: Iterable[int]) -> dict[int, str]: ...


class IncidentRepository(Protocol):
    """Incident grouping's index and the merge suggestions (see storage.incidents)."""

    async def index(
        self, case_id: int, created_at: datetime, keys: Sequence[tuple[str, int]]
    ) -> None:
        """Store the case's index keys (again: no harm)."""
        ...

    async def index_and_find(
        self,
        case_id: int,
        created_at: datetime,
        keys: Sequence[tuple[str, int]],
        *,
        since: datetime,
        until: datetime,
        limit: int,
        serialise: Sequence[str] = (),
    ) -> list[Candidate]:
        """``index`` the case, then its ``candidates`` (one statement where the database
        can). Reports sharing any of ``serialise`` are grouped one after the other."""
        ...

    async def candidates(
        self,
        keys: Sequence[str],
        *,
        since: datetime,
        until: datetime,
        exclude: int,
        limit: int,
    ) -> list[Candidate]:
        """Open cases (and reports merged into others) filed in the span that share keys,
        the most shared weight first, then the newest."""
        ...

    async def serialise(self, keys: Sequence[str]) -> None:
        """Hold the locks ``index_and_find``'s ``serialise`` takes, until commit."""
        ...

    async def neighbours(
        self, keys: Sequence[str], *, since: datetime, until: datetime
    ) -> list[tuple[Candidate, dict[str, int]]]:
        """Open reports of the span indexed by any of ``keys``, with the weights of those."""
        ...

    async def index_many(
        self, reports: Sequence[tuple[int, datetime, Sequence[tuple[str, int]]]]
    ) -> None: ...
    async def report(self, number: str) -> Candidate | None: ...
    async def unsigned(self, *, since: datetime, until: datetime, limit: int) -> list[int]: ...
    async def prune(self, *, before: datetime) -> int: ...
    async def suggest(
        self, suggestions: Sequence[tuple[int, int, float, str]], *, at: datetime
    ) -> None:
        """Record (case id, lead id, score, reason) suggestions, once per pair."""
        ...

    async def suggestions(self, case_id: int) -> list[Suggestion]: ...
    async def get_suggestion(self, suggestion_id: int, *, lock: bool = False) -> Suggestion: ...
    async def decide(self, suggestion: Suggestion) -> None: ...


class OutboxRepository(Protocol):
    async def add(self, message: OutboundMessage) -> OutboundMessage: ...
    async def get(self, message_id: int, *, lock: bool = False) -> OutboundMessage: ...
    async def save(self, message: OutboundMessage) -> None: ...
    async def get_many(self, ids: Iterable[int], *, lock: bool = False) -> list[OutboundMessage]:
        """By id; ``NotFound`` when one of ``ids`` has no message."""
        ...

    async def save_many(self, messages: Sequence[OutboundMessage]) -> None: ...
    async def for_case(self, case_id: int) -> list[OutboundMessage]: ...
    async def conversation(
        self, channel: Channel, address: str, *, limit: int
    ) -> list[OutboundMessage]: ...
    async def unfinished_ids(self, *, updated_before: datetime, limit: int) -> list[int]: ...
    async def callbacks(self, *, limit: int, offset: int = 0) -> list[OutboundMessage]:
        """Call-back tasks still to do, oldest first."""
        ...


class GovernanceRepository(Protocol):
    async def overdue(self, *, now: datetime, below_level: int, limit: int) -> list[str]: ...
    async def near_due(self, *, now: datetime, until: datetime, limit: int) -> list[str]: ...
    async def claim_rung(self, case_id: int, level: int, *, at: datetime) -> bool: ...
    async def notify(self, notification: Notification) -> Notification: ...
    async def notifications(
        self,
        *,
        audiences: list[str],
        department: str | None,
        limit: int,
        unread_only: bool,
        unit: str | None = None,
    ) -> list[Notification]: ...
    async def mark_read(self, ids: list[int], *, at: datetime) -> None: ...
    async def unanswered_visits(self, *, asked_before: datetime, limit: int) -> list[str]: ...
    async def report_counts(
        self, *, recent_since: datetime, usual_since: datetime, now: datetime
    ) -> list[tuple[str, str, int, int]]: ...
    async def claim_surge(
        self,
        category: str,
        district: str,
        bucket: datetime,
        *,
        at: datetime,
        count: int,
        usual: float,
    ) -> bool: ...


class SupervisionRepository(Protocol):
    """Supervision orders (督办), read with their case's number and department."""

    async def add(self, order: SupervisionOrder) -> SupervisionOrder: ...
    async def get(self, order_id: int, *, lock: bool = False) -> SupervisionOrder: ...
    async def save(self, order: SupervisionOrder) -> None: ...
    async def for_case(self, case_id: int) -> list[SupervisionOrder]: ...
    async def listing(
        self,
        *,
        status: OrderFilter | None,
        department: str | None,
        now: datetime,
        limit: int,
        offset: int = 0,
        unit: str | None = None,
    ) -> list[SupervisionOrder]: ...
    async def reminder_candidates(
        self, *, now: datetime, within: timedelta, every: timedelta, limit: int
    ) -> list[SupervisionOrder]: ...
    async def claim_reminder(self, order_id: int, *, now: datetime, every: timedelta) -> bool:
        """True for exactly one caller when the order is due a reminder."""
        ...

    async def report(
        self, *, since: datetime | None, until: datetime | None, now: datetime
    ) -> list[SupervisionCounts]: ...


class OwnershipRepository(Protocol):
    """Leader ownership of cases (包案) and the backlog (积案)."""

    async def get(self, case_id: int) -> CaseOwner | None: ...
    async def save(self, owner: CaseOwner) -> None: ...
    async def backlog(
        self,
        *,
        opened_before: datetime,
        department: str | None,
        limit: int,
        offset: int = 0,
        unit: str | None = None,
    ) -> list[BacklogEntry]: ...


class DialogueRepository(Protocol):
    async def get(self, handle: ContactHandle, *, lock: bool = False) -> Dialogue | None: ...
    async def save(self, dialogue: Dialogue) -> None: ...
    async def clear(self, handle: ContactHandle) -> None: ...
    async def expired(self, *, now: datetime, limit: int) -> list[ContactHandle]: ...


class StaffRepository(Protocol):
    async def add(self, user: StaffUser) -> StaffUser: ...
    async def by_username(self, username: str) -> StaffUser | None: ...
    async def get(self, user_id: int) -> StaffUser: ...
    async def count(self) -> int: ...


class DepartmentRepository(Protocol):
    async def sync(self, departments: Sequence[Department]) -> None:
        """Make the table hold these departments (added or renamed; none removed)."""
        ...

    async def all(self) -> list[Department]: ...


class UnitRepository(Protocol):
    async def sync(self, tree: UnitTree) -> None:
        """Make the table hold these units (added or updated; none removed)."""
        ...

    async def all(self) -> list[Unit]: ...


class ClaimRepository(Protocol):
    """Who is answering a case (see storage.claims for how races are settled)."""

    async def take(self, case_id: int, holder_id: int, *, now: datetime, until: datetime) -> bool:
        """Take or renew the claim; False when someone else holds a live one."""
        ...

    async def release(self, case_id: int, holder_id: int | None = None) -> None: ...
    async def of_case(self, case_id: int) -> Claim | None: ...
    async def of_cases(self, case_ids: Iterable[int]) -> dict[int, Claim]: ...


class SessionRepository(Protocol):
    async def add(self, console_session: ConsoleSession) -> None: ...
    async def get(self, session_id: str) -> ConsoleSession | None: ...
    async def remove(self, session_id: str) -> None: ...


class LoginFailureRepository(Protocol):
    async def get(self, username: str) -> LoginFailures | None: ...
    async def record_failure(
        self, username: str, *, now: datetime, policy: LockoutPolicy
    ) -> LoginFailures:
        """Count one wrong password atomically; locks the name when the count reaches the
        policy's limit within its window."""
        ...

    async def clear(self, username: str) -> None: ...


class CannedReplyRepository(Protocol):
    async def all(self) -> list[CannedReply]: ...
    async def for_category(self, category: str | None) -> list[CannedReply]: ...
    async def get(self, reply_id: int) -> CannedReply: ...
    async def save(self, reply: CannedReply) -> CannedReply: ...
    async def remove(self, reply_id: int) -> None: ...


class QueueView(Protocol):
    async def page(self, query: QueueFilter, *, now: datetime) -> QueuePage:
        """One page of a queue in deadline order, with the filter's totals."""
        ...


class StatsRepository(Protocol):
    async def backlog(
        self,
        group: BacklogGroup,
        *,
        now: datetime,
        department: str | None = None,
        departments: Collection[str] | None = None,
    ) -> list[BacklogCounts]: ...
    async def report(
        self,
        groups: tuple[ReportGroup, ...] | list[ReportGroup],
        *,
        period: ReportPeriod,
        since: datetime,
        until: datetime,
        now: datetime,
        department: str | None = None,
        departments: Collection[str] | None = None,
        repeat_days: int = ...,
        exact: bool = False,
    ) -> list[ReportRow]:
        """The rates' counts per group and period (see storage.stats, handlers.rates);
        ``exact``: every case counted directly, not from the summary."""
        ...

    async def closed(self, *, since: datetime, until: datetime) -> dict[str, int]:
        """Cases closed in the span, per channel."""
        ...


class LetterRepository(Protocol):
    async def add(self, letter: Letter) -> Letter: ...
    async def get(self, letter_id: int, *, lock: bool = False) -> Letter: ...
    async def save(self, letter: Letter) -> None: ...
    async def by_inbound(self, inbound_id: int) -> Letter | None: ...
    async def by_case_number(self, number: str) -> Letter | None:
        """The letter that opened the case ``number``."""
        ...

    async def cursor(self, account: str, folder: str) -> tuple[int, int] | None:
        """(UIDVALIDITY, last UID read) of a mailbox folder, or None before the first read."""
        ...

    async def store_mail(
        self,
        message: InboundMessage,
        *,
        account: str,
        folder: str,
        uidvalidity: int,
        uid: int,
        now: datetime,
    ) -> tuple[InboundMessage, bool]:
        """Store a mail in the inbox (once per Message-ID) and move the folder's cursor past
        it, in the caller's transaction: one commit makes both true, or neither."""
        ...


class BoardRepository(Protocol):
    """The public board: each case's consent and board state, and the public's reads (only
    listed entries of closed cases; see ``storage.board``)."""

    async def get(self, case_id: int, *, lock: bool = False) -> BoardEntry | None: ...
    async def save(self, entry: BoardEntry) -> None: ...
    async def asked_of(self, citizen_id: int) -> BoardEntry | None: ...
    async def published(self, public_id: str) -> tuple[int, PublicCase] | None: ...
    async def page(
        self,
        query: BoardQuery,
        *,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> list[PublicCase]: ...
    async def top_matters(
        self, *, since: datetime, until: datetime, limit: int
    ) -> list[tuple[str | None, str | None, int]]: ...


class QaRepository(Protocol):
    """Leaders' public Q&A sessions and their answers (``storage.qa``)."""

    async def add(self, qa: QaSession) -> QaSession: ...
    async def by_public_id(self, public_id: str, *, lock: bool = False) -> QaSession | None: ...
    async def set_status(self, session_id: int, status: SessionStatus) -> None: ...
    async def recent(self, limit: int) -> list[QaSession]: ...
    async def add_answer(self, answer: QaAnswer) -> QaAnswer: ...
    async def answers(
        self, session_id: int, *, after: int = 0, limit: int = 500
    ) -> list[QaAnswer]: ...
    async def mark(self, question: QaQuestion) -> bool: ...
    async def questions(self, session_id: int) -> list[QaQuestion]: ...


class VisitRepository(Protocol):
    """The reception register (``storage.visits``)."""

    async def person(self, visitor: Visitor, *, at: datetime) -> Visitor: ...
    async def add(self, visit: Visit, register_id: str) -> Visit: ...
    async def by_register_id(self, register_id: str) -> Visit | None: ...
    async def who(self, id_number: str) -> Visitor | None: ...
    async def get(self, visit_id: int) -> Visit: ...
    async def earlier(self, people: Sequence[Visitor]) -> list[Earlier]: ...
    async def between(
        self, start: datetime, end: datetime, *, unit: str | None = None, limit: int = 10_000
    ) -> list[Visit]: ...
    async def for_case(self, case_id: int) -> list[Visit]: ...
    async def attach_cases(self, visit_id: int, case_ids: Sequence[int]) -> None: ...


class AppointmentRepository(Protocol):
    """Appointments and their per-day slots (``storage.appointments``)."""

    async def book(self, appointment: Appointment, *, capacity: int) -> Appointment: ...
    async def by_number(self, number: str, *, lock: bool = False) -> Appointment | None: ...
    async def save(self, appointment: Appointment) -> None: ...
    async def on_day(self, day: date, *, unit: str | None = None) -> list[Appointment]: ...
    async def booked(self, unit: str, day: date) -> int: ...
    async def to_remind(self, day: date, *, limit: int) -> list[Appointment]: ...
    async def claim_reminder(self, appointment_id: int, *, at: datetime) -> bool: ...


class RotaRepository(Protocol):
    """The rota's one-day overrides (``storage.rota``)."""

    async def overrides(self, start: date, end: date) -> dict[tuple[str, date], str]: ...
    async def name_leader(
        self, unit: str, day: date, leader: str | None, *, by: str, at: datetime
    ) -> None: ...


class AssignmentRepository(Protocol):
    """Assignments of cases handed along the units' tree (storage.assignments)."""

    async def of_case(self, case_id: int) -> list[Assignment]: ...
    async def get(self, assignment_id: int) -> Assignment | None: ...
    async def save(self, assignment: Assignment) -> Assignment:
        """Insert a new one (setting its id) or write back a changed one."""
        ...

    async def late(self, *, now: datetime, limit: int) -> list[int]:
        """Handed-down assignments holding past their deadline, their parent not yet told."""
        ...

    async def mark_escalated(self, assignment_id: int, *, at: datetime) -> bool:
        """Record that the parent was told; False when another worker did it first."""
        ...


class UnitOfWork(Protocol):
    """One transaction: commit explicitly, anything else rolls back on exit."""

    citizens: CitizenRepository
    inbox: InboxRepository
    cases: CaseRepository
    assignments: AssignmentRepository
    incidents: IncidentRepository
    outbox: OutboxRepository
    staff: StaffRepository
    departments: DepartmentRepository
    units: UnitRepository
    dialogues: DialogueRepository
    governance: GovernanceRepository
    supervision: SupervisionRepository
    ownership: OwnershipRepository
    claims: ClaimRepository
    sessions: SessionRepository
    login_failures: LoginFailureRepository
    canned_replies: CannedReplyRepository
    queue_view: QueueView
    stats: StatsRepository
    letters: LetterRepository
    board: BoardRepository
    qa: QaRepository
    visits: VisitRepository
    appointments: AppointmentRepository
    rota: RotaRepository

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...


class FilingRepository(Protocol):
    """Many cases opened in one transaction with set-based statements (``storage.filing``)."""

    async def received(self, ids: Iterable[int], *, lock: bool) -> list[InboundMessage]:
        """The messages of ``ids`` still ``received``, by id (``lock``: for update)."""
        ...

    async def citizens(
        self, handles: Sequence[tuple[ContactHandle, Language]], *, at: datetime
    ) -> dict[ContactHandle, int]:
        """Each handle's citizen, created where there is none."""
        ...

    async def waiting(self, citizen_ids: Iterable[int]) -> set[int]:
        """Those of the citizens who have an open case paused for their answer."""
        ...

    async def numbers(self, day: date, count: int) -> list[str]: ...
    async def add_cases(self, cases: Sequence[Case]) -> None:
        """Insert numbered new cases with their pending events (sets their ids)."""
        ...

    async def merged(self, cases: Sequence[Case]) -> None:
        """Write back the status, merge target and time of cases ``add_cases`` stored in this
        transaction and incident grouping then merged, with their pending events."""
        ...

    async def ask_board(self, entries: Sequence[BoardEntry]) -> None: ...
    async def add_replies(self, messages: Sequence[OutboundMessage]) -> None:
        """Insert outbox rows (sets their ids)."""
        ...

    async def processed(self, messages: Sequence[InboundMessage], *, at: datetime) -> None:
        """Write back the messages' citizen, case, language and status."""
        ...


class BatchUnitOfWork(UnitOfWork, Protocol):
    filing: FilingRepository


class JobQueue(Protocol):
    """The fast path to the workers. Enqueueing the same job twice while it waits is a no-op."""

    async def enqueue(
        self, job: str, key: int, *, defer_seconds: float = 0, ahead: bool = False
    ) -> bool:
        """Queue ``job`` for ``key``; False when that job is already waiting or running.
        ``ahead`` puts it before the work already waiting (replies to citizens)."""
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
