"""Leaders' public Q&A sessions (百姓问政 / 在线访谈): a supervisor schedules one (leader, units,
time, topic, a video link if any); during it staff publish the leader's answers, each to a
citizen's question (masked) and, where the question is a case, naming it; the public follows
on the board as answers arrive. The session's page stays as the record."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

MAX_TOPIC = 200
MAX_LEADER = 100
MAX_TEXT = 5000
MAX_URL = 500


class SessionStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


@dataclass(slots=True)
class QaSession:
    public_id: str
    topic: str
    leader: str
    starts_at: datetime
    created_by: str
    created_at: datetime
    departments: list[str] = field(default_factory=list)
    status: SessionStatus = SessionStatus.SCHEDULED
    video_url: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class QaQuestion:
    """A citizen's question asked beforehand: a case (on any channel) marked for the session."""

    session_id: int
    case_id: int
    case_number: str
    question: str  # masked
    marked_by: str
    marked_at: datetime
    id: int | None = None


@dataclass(frozen=True, slots=True)
class QaAnswer:
    session_id: int
    question: str  # masked
    answer: str
    answered_by: str
    published_at: datetime
    case_number: str | None = None  # the question's case, when it is one
    id: int | None = None
