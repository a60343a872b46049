"""Leader ownership of hard backlog cases (领导包案) and the backlog (积案) itself.

A case open too long gets the "five ones" (五个一): one responsible leader, one working group,
one resolution plan, one supervising leader, and one complete dossier (built from the case's
history on demand, never kept apart from it). Ownership may change as the case goes on; each
change is a case event, so the dossier shows who owned it when and with which plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from civicline.domain.cases import AWAITING_REPLY, AWAITING_TRIAGE, Case
from civicline.domain.errors import InvalidInput
from civicline.domain.supervision import required

DEFAULT_BACKLOG_DAYS = 60  # calendar days open before a case counts as backlog (积案)
MAX_NAME = 100
MAX_GROUP = 30


@dataclass(slots=True)
class CaseOwner:
    case_id: int
    leader: str  # the responsible leader (包案领导)
    supervising_leader: str  # who holds the leader to it (督导领导)
    working_group: list[str]  # 工作专班
    plan: str  # 化解方案
    assigned_by: str
    assigned_at: datetime
    updated_at: datetime

    @classmethod
    def assign(
        cls,
        case_id: int,
        *,
        leader: str,
        supervising_leader: str,
        working_group: list[str],
        plan: str,
        by: str,
        at: datetime,
    ) -> CaseOwner:
        owner = cls(case_id, "", "", [], "", assigned_by=by, assigned_at=at, updated_at=at)
        owner.update(
            leader=leader,
            supervising_leader=supervising_leader,
            working_group=working_group,
            plan=plan,
            at=at,
        )
        return owner

    def update(
        self,
        *,
        leader: str,
        supervising_leader: str,
        working_group: list[str],
        plan: str,
        at: datetime,
    ) -> list[str]:
        """Replace all four; the names of the fields that changed (none: nothing to record)."""
        leader = required(leader, "ownership needs a responsible leader", limit=MAX_NAME)
        supervising = required(
            supervising_leader, "ownership needs a supervising leader", limit=MAX_NAME
        )
        if leader == supervising:
            raise InvalidInput("the supervising leader must be someone else than the leader")
        group = list(
            dict.fromkeys(
                required(name, "a working group member needs a name", limit=MAX_NAME)
                for name in working_group
            )
        )
        if not group:
            raise InvalidInput("ownership needs a working group of at least one person")
        if len(group) > MAX_GROUP:
            raise InvalidInput(f"a working group has at most {MAX_GROUP} people")
        plan = required(plan, "ownership needs a resolution plan")
        new: dict[str, Any] = {
            "leader": leader,
            "supervising_leader": supervising,
            "working_group": group,
            "plan": plan,
        }
        changed = [name for name, value in new.items() if getattr(self, name) != value]
        for name in changed:
            setattr(self, name, new[name])
        if changed:
            self.updated_at = at
        return changed


def owes_past_deadline(case: Case, now: datetime) -> bool:
    """Past the deadline it still owes (acceptance in triage, completion with a department),
    and not waiting for the citizen: the same rule the escalation ladder uses."""
    if case.paused_since is not None:
        return False
    if case.status in AWAITING_TRIAGE:
        return case.accept_due_at < now
    if case.status in AWAITING_REPLY:
        return case.complete_due_at < now
    return False


@dataclass(frozen=True, slots=True)
class BacklogEntry:
    """One backlog case: ``leader`` when a leader owns it, ``open_orders`` its supervision
    orders still waiting for a response."""

    case: Case
    leader: str | None = None
    open_orders: int = 0

    def age_days(self, now: datetime) -> int:
        return (now - self.case.created_at) // timedelta(days=1)

    def overdue(self, now: datetime) -> bool:
        return owes_past_deadline(self.case, now)
