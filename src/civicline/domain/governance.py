"""Letters-and-visits governance: how a case ended, what the citizen said of it, escalation.

Closing records which of the five outcomes applied (the 五个到位 practice), and whether the
matter belongs to the courts (涉法涉诉). After a close the citizen is visited again (回访) on
their own channel: satisfied, basically satisfied or dissatisfied, and whether the problem is
solved. A dissatisfied or unsolved answer reopens the case once for a second review.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class Outcome(enum.StrEnum):
    SOLVED = "solved"  # a lawful, reasonable request solved at once (诉求合理的解决到位)
    DISCRETION = "discretion"  # reasonable without legal basis, handled at discretion
    EXPLAINED = "explained"  # an unreasonable request explained to the citizen (解释到位)
    LAW_ENFORCED = "law_enforced"  # unlawful conduct dealt with by law (依法处理到位)
    ASSISTED = "assisted"  # a citizen in hardship given assistance (帮扶救助到位)


OUTCOME_NAMES: dict[Outcome, tuple[str, str]] = {
    Outcome.SOLVED: ("诉求合理的解决到位", "Reasonable request solved"),
    Outcome.DISCRETION: ("诉求无理的思想教育到位", "Handled at discretion"),
    Outcome.EXPLAINED: ("诉求合理但无政策依据的解释到位", "Explained to the citizen"),
    Outcome.LAW_ENFORCED: ("违法行为依法处理到位", "Unlawful conduct dealt with by law"),
    Outcome.ASSISTED: ("生活困难的帮扶救助到位", "Citizen in hardship assisted"),
}


class Satisfaction(enum.StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASIC = "basic"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意

    @property
    def rating(self) -> int:
        """On the 1-5 scale the rates use (4 and 5 count as satisfied)."""
        return {"satisfied": 5, "basic": 4, "dissatisfied": 1}[self.value]


# The return visit's four answers, as the citizen gives them (a digit or a button).
VISIT_ANSWERS: dict[int, tuple[Satisfaction, bool | None]] = {
    1: (Satisfaction.SATISFIED, True),
    2: (Satisfaction.BASIC, True),
    3: (Satisfaction.DISSATISFIED, None),
    4: (Satisfaction.DISSATISFIED, False),  # the problem is not solved
}


class VisitStatus(enum.StrEnum):
    ASKED = "asked"  # the question went out on the citizen's channel
    ANSWERED = "answered"
    UNREACHABLE = "unreachable"  # no answer in time, or not reached by phone


# How long a return visit waits for the citizen's answer before they count as unreachable.
VISIT_WAIT = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """One rung of the ladder: ``after`` overdue (in working time), notify ``to``."""

    level: int
    to: str  # clerk, department_head, supervising_office
    after: timedelta


# clerk → department head → supervising office (督查室): the default ladder.
DEFAULT_LADDER = (
    EscalationStep(1, "clerk", timedelta(0)),
    EscalationStep(2, "department_head", timedelta(hours=24)),
    EscalationStep(3, "supervising_office", timedelta(hours=72)),
)


@dataclass(frozen=True, slots=True)
class Notification:
    """A message to staff. Its text is the system's (case number, deadline), never the
    citizen's words."""

    created_at: datetime
    kind: str  # near_due, escalated, supervision, …
    audience: str  # clerk, department_head, supervising_office
    text: str
    case_id: int | None = None
    department: str | None = None
    read_at: datetime | None = None
    id: int | None = None
