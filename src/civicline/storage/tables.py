"""The relational schema: the database is the system of record."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
    literal_column,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from civicline.domain.cases import AWAITING_REPLY, AWAITING_TRIAGE

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite has no 64-bit autoincrement BIGINT; INTEGER PRIMARY KEY is its rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on PostgreSQL and on SQLite (which keeps naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The cases whose counts case_rate_cells does not hold, so that storage.stats counts them one
# by one: those whose counts depend on the time of the report or on the history (open cases,
# cases closed without their times, cases declined without a decision time). The cells hold
# closed and declined cases with every time stored. Merged cases are in neither (MERGED): a
# merged case counts only as merged, from ix_cases_merged_filed, so that opening a case (merged
# at once by incident grouping, in the worker's batches) never writes a cell. The same texts as
# migration 0018's, so that PostgreSQL matches the partial indexes to the queries.
UNSETTLED = (
    "status NOT IN ('closed', 'rejected', 'merged')"
    " OR (status = 'closed' AND (accepted_at IS NULL OR closed_at IS NULL"
    " OR (first_reply_at IS NULL AND reply_due_at IS NOT NULL)))"
    " OR (status = 'rejected' AND accepted_at IS NULL AND declined_at IS NULL)"
)
MERGED = "status = 'merged'"
RATE_COUNTS: tuple[str, ...] = (
    "cases", "merged", "rejected", "accept_due", "accepted_in_time", "complete_due",
    "completed_in_time", "closed", "reply_due", "replied_in_time", "visits", "visits_answered",
    "visits_unreachable", "satisfied", "basic", "dissatisfied", "unsolved", "repeats",
    "legal_matters", "rated", "rated_satisfied",
)  # fmt: skip


def _in_list(statuses: frozenset[str]) -> str:
    return ", ".join(f"'{s}'" for s in sorted(statuses))


# Declared here because a column named ``text`` hides sqlalchemy's text() in some classes.
EMPTY_LIST = text("'[]'")
EMPTY_OBJECT = text("'{}'")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
        list[list[str]]: JSON(),
    }


class UnitRow(Base):
    """A unit of the tree (``domain.units``); ``path`` lists its ancestors' codes and its own,
    so a subtree is a prefix (``path LIKE '341800/341881/%'``)."""

    __tablename__ = "units"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    parent: Mapped[str | None] = mapped_column(ForeignKey("units.code"))
    level: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(255), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))


class DepartmentRow(Base):
    __tablename__ = "departments"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(ForeignKey("units.code"), index=True)


class StaffUserRow(Base):
    __tablename__ = "staff_users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    department: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    # The unit the account works for: a supervisor sees its subtree; a clerk's is their
    # department's.
    unit: Mapped[str | None] = mapped_column(ForeignKey("units.code"))
    display_name: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class CitizenRow(Base):
    __tablename__ = "citizens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    language: Mapped[str] = mapped_column(String(8))
    display_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]


class ContactHandleRow(Base):
    __tablename__ = "contact_handles"
    __table_args__ = (UniqueConstraint("channel", "address"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(200))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class InboundMessageRow(Base):
    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("channel", "provider_message_id"),
        Index("ix_inbound_messages_conversation", "channel", "sender_address", "id"),
        # The sweeper's look-up: only unprocessed rows are indexed.
        Index(
            "ix_inbound_messages_unprocessed",
            "received_at",
            postgresql_where=text("status = 'received'"),
            sqlite_where=text("status = 'received'"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    sender_address: Mapped[str] = mapped_column(String(200))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    attachments: Mapped[list[str]] = mapped_column(default=list)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    choice: Mapped[str | None] = mapped_column(String(64))
    shared_phone: Mapped[str | None] = mapped_column(String(32))
    edited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # What a channel tells besides the words: a hotline call's operator and times, an
    # Open311 request's service code and address. Never shown to roles without need.
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=EMPTY_OBJECT)
    status: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class CaseCounterRow(Base):
    __tablename__ = "case_counters"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class CaseRow(Base):
    __tablename__ = "cases"
    __table_args__ = (
        # The reply queue: open cases of one department by deadline. Partial, so it holds
        # only the cases still owed an answer, however many closed cases pile up.
        Index(
            "ix_cases_reply_queue",
            "department",
            "complete_due_at",
            "id",
            postgresql_where=text(f"status IN ({_in_list(AWAITING_REPLY)})"),
            sqlite_where=text(f"status IN ({_in_list(AWAITING_REPLY)})"),
        ),
        Index(
            "ix_cases_awaiting_reply_by_deadline",
            "complete_due_at",
            "id",
            postgresql_where=text(f"status IN ({_in_list(AWAITING_REPLY)})"),
            sqlite_where=text(f"status IN ({_in_list(AWAITING_REPLY)})"),
        ),
        Index(
            "ix_cases_triage",
            "accept_due_at",
            postgresql_where=text(f"status IN ({_in_list(AWAITING_TRIAGE)})"),
            sqlite_where=text(f"status IN ({_in_list(AWAITING_TRIAGE)})"),
        ),
        Index("ix_cases_citizen", "citizen_id", "id"),
        # The rates: a period's cases by filing time.
        Index("ix_cases_created_at", "created_at"),
        # The rates: a citizen's earlier cases of a category (repeat complaints), and the
        # cases closed in a period (/metrics).
        Index("ix_cases_repeat", "citizen_id", "category", "created_at"),
        Index("ix_cases_closed_at", "closed_at"),
        # Incidents: recent cases of a category, and the reports merged into a case.
        Index("ix_cases_category_created", "category", "created_at"),
        Index(
            "ix_cases_merged_into",
            "merged_into",
            postgresql_where=text("merged_into IS NOT NULL"),
            sqlite_where=text("merged_into IS NOT NULL"),
        ),
        # The rates: the cases storage.stats counts directly, those case_rate_cells leaves out.
        Index(
            "ix_cases_unsettled",
            "created_at",
            postgresql_where=text(UNSETTLED),
            sqlite_where=text(UNSETTLED),
        ),
        # The rates: merged cases by filing time, with what their count needs (index-only).
        Index(
            "ix_cases_merged_filed",
            "created_at",
            postgresql_include=["number", "department", "category", "channel", "outcome"],
            postgresql_where=text(MERGED),
            sqlite_where=text(MERGED),
        ),
        # Return visits still waiting for the citizen's answer.
        Index(
            "ix_cases_visit_asked",
            "closed_at",
            postgresql_where=text("visit_status = 'asked'"),
            sqlite_where=text("visit_status = 'asked'"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    channel: Mapped[str] = mapped_column(String(16))
    reply_to: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    category: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    status: Mapped[str] = mapped_column(String(16))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    collective: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    place: Mapped[str | None] = mapped_column(String(200))
    subcategory: Mapped[str | None] = mapped_column(String(48))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    reply_channel: Mapped[str | None] = mapped_column(String(16))
    reply_due_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    declined_at: Mapped[datetime | None]
    first_reply_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    paused_since: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))
    legal_matter: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    solved: Mapped[bool | None] = mapped_column(Boolean)
    visit_status: Mapped[str | None] = mapped_column(String(16))
    second_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    district: Mapped[str | None] = mapped_column(String(64))
    # The unit the complaint's place lies in, as routing found it (None: no place known).
    unit: Mapped[str | None] = mapped_column(String(32))
    # What the report names, for incident grouping (domain.incidents.Signature.encode).
    incident_signature: Mapped[str | None] = mapped_column(Text)
    reporters: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    classified_by: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[float | None] = mapped_column(Float)
    merged_into: Mapped[str | None] = mapped_column(String(32))
    resolution: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    accept_due_at: Mapped[datetime]
    complete_due_at: Mapped[datetime]
    # An earlier case of the citizen and category within 30 days; kept by PostgreSQL's
    # triggers (migration 0017), never written by this code; false on SQLite.
    is_repeat: Mapped[bool] = mapped_column(Boolean, server_default=false())


class CaseRateCellRow(Base):
    """The rates' counts of the settled cases (not UNSETTLED) of one filing day (the case
    number's ``YYMMDD``) and one department, category, channel and outcome (``''``: none),
    kept by PostgreSQL's triggers in the transaction of every change to a case (migration
    0017). ``first_at``/``last_at`` bound the cell's filing times (never narrowed)."""

    __tablename__ = "case_rate_cells"
    day: Mapped[str] = mapped_column(String(6), primary_key=True)
    department: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16), primary_key=True)
    cases: Mapped[int] = mapped_column(Integer)
    merged: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    accept_due: Mapped[int] = mapped_column(Integer)
    accepted_in_time: Mapped[int] = mapped_column(Integer)
    complete_due: Mapped[int] = mapped_column(Integer)
    completed_in_time: Mapped[int] = mapped_column(Integer)
    closed: Mapped[int] = mapped_column(Integer)
    reply_due: Mapped[int] = mapped_column(Integer)
    replied_in_time: Mapped[int] = mapped_column(Integer)
    visits: Mapped[int] = mapped_column(Integer)
    visits_answered: Mapped[int] = mapped_column(Integer)
    visits_unreachable: Mapped[int] = mapped_column(Integer)
    satisfied: Mapped[int] = mapped_column(Integer)
    basic: Mapped[int] = mapped_column(Integer)
    dissatisfied: Mapped[int] = mapped_column(Integer)
    unsolved: Mapped[int] = mapped_column(Integer)
    repeats: Mapped[int] = mapped_column(Integer)
    legal_matters: Mapped[int] = mapped_column(Integer)
    rated: Mapped[int] = mapped_column(Integer)
    rated_satisfied: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]


class CaseEventRow(Base):
    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case", "case_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OutboundMessageRow(Base):
    __tablename__ = "outbound_messages"
    __table_args__ = (
        Index("ix_outbound_messages_case", "case_id", "id"),
        Index("ix_outbound_messages_conversation", "channel", "recipient_address", "id"),
        Index(
            "ix_outbound_messages_unfinished",
            "updated_at",
            postgresql_where=text("status IN ('queued', 'sending')"),
            sqlite_where=text("status IN ('queued', 'sending')"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient_address: Mapped[str] = mapped_column(String(200))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    in_reply_to: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    author: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    # Buttons offered with the message, as [label, data] pairs.
    choices: Mapped[list[list[str]]] = mapped_column(default=list, server_default=EMPTY_LIST)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DialogueRow(Base):
    """A guided conversation in progress, one per contact handle (see domain.dialogues)."""

    __tablename__ = "dialogues"
    __table_args__ = (Index("ix_dialogues_updated", "updated_at"),)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    address: Mapped[str] = mapped_column(String(200), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


# The console's "urgent only" queue: the few urgent or collective cases awaiting a reply, by
# deadline (walking the whole reply queue to find them took ~100 ms at 30,000 open cases).
Index(
    "ix_cases_urgent_queue",
    CaseRow.complete_due_at,
    CaseRow.id,
    postgresql_where=text(f"status IN ({_in_list(AWAITING_REPLY)}) AND (urgent OR collective)"),
    sqlite_where=text(f"status IN ({_in_list(AWAITING_REPLY)}) AND (urgent OR collective)"),
)


class ConsoleSessionRow(Base):
    """A signed-in console browser; the id is the sha-256 of the cookie's token."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_user", "user_id"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class LoginFailureRow(Base):
    """Wrong passwords per username (existing or not): the console's lockout."""

    __tablename__ = "login_failures"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class CaseClaimRow(Base):
    """Who is working on a case, until when: one row per case, taken atomically."""

    __tablename__ = "case_claims"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    claimed_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class CannedReplyRow(Base):
    __tablename__ = "canned_replies"
    __table_args__ = (Index("ix_canned_replies_category", "category", "language"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    category: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))


class EscalationRow(Base):
    """One rung of the escalation ladder reached by one case: the primary key is what makes
    it happen once, however many workers try at the same moment."""

    __tablename__ = "escalations"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]


class NotificationRow(Base):
    """A message to staff (never holding citizen text): near due, overdue, escalated, …"""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_audience", "audience", "department", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    audience: Mapped[str] = mapped_column(String(32))  # clerk, department_head, …
    department: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    read_at: Mapped[datetime | None]


class SupervisionOrderRow(Base):
    """A supervision order (督办): a supervisor demands a written response by a deadline."""

    __tablename__ = "supervision_orders"
    __table_args__ = (Index("ix_supervision_orders_open", "status", "due_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    issued_by: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime]
    due_at: Mapped[datetime]
    instruction: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # open, answered, closed
    response: Mapped[str | None] = mapped_column(Text)
    responded_by: Mapped[str | None] = mapped_column(String(100))
    responded_at: Mapped[datetime | None]
    reminders: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    reminded_at: Mapped[datetime | None]


class CaseOwnerRow(Base):
    """Leader ownership of a hard backlog case (包案): one leader, one working group, one
    plan, one supervising leader; the dossier is the fifth "one"."""

    __tablename__ = "case_owners"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    leader: Mapped[str] = mapped_column(String(100))
    supervising_leader: Mapped[str] = mapped_column(String(100))
    working_group: Mapped[list[str]] = mapped_column(default=list)
    plan: Mapped[str] = mapped_column(Text)
    assigned_by: Mapped[str] = mapped_column(String(100))
    assigned_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SurgeAlertRow(Base):
    """An early warning that a category surged in a district: one per hour bucket."""

    __tablename__ = "surge_alerts"
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    district: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer)
    usual: Mapped[float] = mapped_column(Float)


class LetterRow(Base):
    """A letter (信): what its case does not hold. See ``domain.letters``."""

    __tablename__ = "letters"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    addressee: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    sender_name: Mapped[str | None] = mapped_column(String(100))
    contact: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    postmark_date: Mapped[date | None] = mapped_column(Date)
    received_at: Mapped[datetime]
    signatories: Mapped[int] = mapped_column(Integer, default=1)
    may_publish: Mapped[bool] = mapped_column(Boolean, default=False)
    query_code_hash: Mapped[str | None] = mapped_column(String(200))
    registered_by: Mapped[str | None] = mapped_column(String(100))
    post_sent_on: Mapped[date | None] = mapped_column(Date)
    post_tracking_number: Mapped[str | None] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)


class MailCursorRow(Base):
    """How far a mailbox folder has been read: IMAP UIDs are only meaningful with their
    folder's UIDVALIDITY, and a new UIDVALIDITY means reading the folder again (Message-IDs
    keep that from filing a mail twice)."""

    __tablename__ = "mail_cursors"
    account: Mapped[str] = mapped_column(String(200), primary_key=True)
    folder: Mapped[str] = mapped_column(String(200), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class IncidentKeyRow(Base):
    """A key a case is indexed by for incident grouping (domain.incidents.keys): a new
    report's candidates are the cases of its window sharing the most weight of keys."""

    __tablename__ = "incident_keys"
    __table_args__ = (Index("ix_incident_keys_key_created_at", "key", "created_at"),)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    weight: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime]


class IncidentSuggestionRow(Base):
    """A report that may be one incident with another case: staff confirm (merge) or
    dismiss it."""

    __tablename__ = "incident_suggestions"
    __table_args__ = (
        UniqueConstraint("case_id", "lead_id"),
        Index(
            "ix_incident_suggestions_open",
            "case_id",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index(
            "ix_incident_suggestions_lead_open",
            "lead_id",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None]


PUBLISHED = "state = 'listed' AND status = 'closed'"


def _published_index(name: str, *columns: str) -> Index:
    return Index(
        name,
        *columns,
        postgresql_where=text(PUBLISHED),
        sqlite_where=text(PUBLISHED),
    )


class BoardEntryRow(Base):
    """A case's standing with the public board (domain.board): the citizen's consent, the
    state, the masked text and its search terms, and copies of the case's status, category,
    unit, district and close time, kept by ``storage.cases`` when it saves the case
    (``storage.board.follow_case``), so every board search reads this table alone through
    the partial indexes below: published entries only, newest filed first."""

    __tablename__ = "board_entries"
    __table_args__ = (
        _published_index("ix_board_entries_published", "filed_at", "case_id"),
        _published_index("ix_board_entries_department", "department", "filed_at"),
        _published_index("ix_board_entries_category", "category", "filed_at"),
        _published_index("ix_board_entries_district", "district", "filed_at"),
    )
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    consent: Mapped[bool | None] = mapped_column(Boolean)
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    terms: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(64))
    district: Mapped[str | None] = mapped_column(String(64))
    answered_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime]


# The board's word search on PostgreSQL: the terms as an array, every term asked for must be
# in it (@>); an array, not a text-search vector, so no locale decides what a word is.
# Published entries only. SQLite searches with LIKE instead.
BOARD_TERMS = func.string_to_array(BoardEntryRow.terms, literal_column("' '"))
Index(
    "ix_board_entries_terms",
    BOARD_TERMS,
    postgresql_using="gin",
    postgresql_where=text(PUBLISHED),
).ddl_if(dialect="postgresql")


class QaSessionRow(Base):
    """A leader's public Q&A session (domain.qa)."""

    __tablename__ = "qa_sessions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    topic: Mapped[str] = mapped_column(String(200))
    leader: Mapped[str] = mapped_column(String(100))
    departments: Mapped[list[str]] = mapped_column(default=list)
    starts_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    video_url: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class QaAnswerRow(Base):
    """An answer published during a session, in order (the live page reads after an id)."""

    __tablename__ = "qa_answers"
    __table_args__ = (Index("ix_qa_answers_session", "session_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("qa_sessions.id"))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    case_number: Mapped[str | None] = mapped_column(String(32))
    answered_by: Mapped[str] = mapped_column(String(100))
    published_at: Mapped[datetime]


class QaQuestionRow(Base):
    """A case marked as a question for a Q&A session (asked beforehand on any channel): the
    session's page lists it, answered or followed up as a case."""

    __tablename__ = "qa_questions"
    __table_args__ = (UniqueConstraint("session_id", "case_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("qa_sessions.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    case_number: Mapped[str] = mapped_column(String(32))
    question: Mapped[str] = mapped_column(Text)  # masked
    marked_by: Mapped[str] = mapped_column(String(100))
    marked_at: Mapped[datetime]


class VisitorRow(Base):
    """A person received at a reception (domain.visits): the ID number is stored here, once
    per person, and nowhere else."""

    __tablename__ = "visitors"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    id_number: Mapped[str | None] = mapped_column(String(18), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"))
    created_at: Mapped[datetime]


class VisitRow(Base):
    """One batch received (a visit, or a leader's field visit)."""

    __tablename__ = "visits"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    register_id: Mapped[str] = mapped_column(String(64), unique=True)  # the form's, once
    unit: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(index=True)
    matter: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))
    leader: Mapped[str | None] = mapped_column(String(100))
    staff: Mapped[list[str]] = mapped_column(default=list)
    counsel: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(500))
    people: Mapped[int] = mapped_column(Integer)
    collective: Mapped[bool] = mapped_column(Boolean)
    repeat: Mapped[bool] = mapped_column(Boolean)
    level_skipping: Mapped[bool] = mapped_column(Boolean)
    appointment: Mapped[str | None] = mapped_column(String(16))
    attachments: Mapped[list[str]] = mapped_column(default=list)
    registered_by: Mapped[str | None] = mapped_column(String(100))


class VisitPersonRow(Base):
    """Who came in a batch."""

    __tablename__ = "visit_people"
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), primary_key=True)
    visitor_id: Mapped[int] = mapped_column(ForeignKey("visitors.id"), primary_key=True, index=True)


class VisitCaseRow(Base):
    """The cases a visit opened, joined or (a field visit) took along."""

    __tablename__ = "visit_cases"
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True, index=True)


class AppointmentRow(Base):
    """A reception day booked by a citizen, or a petitioner called in by staff (约访)."""

    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_unit_day", "unit", "day"),
        Index("ix_appointments_day_status", "day", "status"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    unit: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    brief: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    called_in_by: Mapped[str | None] = mapped_column(String(100))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"))
    booked_at: Mapped[datetime]
    reminded_at: Mapped[datetime | None]
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))


class AppointmentSlotRow(Base):
    """How many appointments a venue's reception day holds: taken by a conditional update,
    so two bookings at once never overfill it."""

    __tablename__ = "appointment_slots"
    unit: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    booked: Mapped[int] = mapped_column(Integer, default=0)


class RotaEntryRow(Base):
    """Another leader named for one reception day (the rota file names the rest)."""

    __tablename__ = "rota_entries"
    unit: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    leader: Mapped[str] = mapped_column(String(100))
    set_by: Mapped[str] = mapped_column(String(100))
    set_at: Mapped[datetime]


_LATE = "state = 'holding' AND parent_id IS NOT NULL AND escalated_at IS NULL"


class CaseAssignmentRow(Base):
    """One unit's turn with a case handed along the units' tree (domain.handing): its
    department, the assignment it came down from, its own deadline and how it went."""

    __tablename__ = "case_assignments"
    __table_args__ = (
        Index("ix_case_assignments_case", "case_id", "id"),
        # The scheduler's look-up of handed-down assignments past their deadline.
        Index(
            "ix_case_assignments_late",
            "due_at",
            postgresql_where=text(_LATE),
            sqlite_where=text(_LATE),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("case_assignments.id"))
    unit: Mapped[str] = mapped_column(String(32))
    department: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    handing: Mapped[str | None] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]


class ImportCheckpointRow(Base):
    """How far a bulk import of one file got (``storage.history``): the file's identity (its
    size and a hash of its head) and how many of its records are committed."""

    __tablename__ = "import_checkpoints"
    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    rows_done: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]
