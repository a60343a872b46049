"""The case and its lifecycle: every transition is an event with who, when and why."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from civicline.domain.calendar import WorkCalendar
from civicline.domain.errors import IllegalTransition, InvalidInput
from civicline.domain.governance import Outcome, Satisfaction, VisitStatus
from civicline.domain.messages import Channel, Language


class CaseStatus(enum.StrEnum):
    RECEIVED = "received"  # registered, not yet accepted (the triage queue when unplaced)
    ACCEPTED = "accepted"  # accepted as a complaint (受理)
    ASSIGNED = "assigned"  # handed to a department (交办)
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    CLOSED = "closed"
    FORWARDED = "forwarded"  # sent on to another department
    RETURNED = "returned"  # sent back as misrouted (退单), waits for re-dispatch
    MERGED = "merged"  # duplicate of another case
    REJECTED = "rejected"  # not a complaint
    REOPENED = "reopened"


S = CaseStatus

TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.RECEIVED: frozenset({S.ACCEPTED, S.REJECTED, S.MERGED}),
    S.ACCEPTED: frozenset({S.ASSIGNED, S.REJECTED, S.MERGED}),
    S.ASSIGNED: frozenset({S.IN_PROGRESS, S.ANSWERED, S.FORWARDED, S.RETURNED, S.MERGED}),
    S.IN_PROGRESS: frozenset({S.ANSWERED, S.FORWARDED, S.RETURNED, S.MERGED}),
    S.FORWARDED: frozenset({S.IN_PROGRESS, S.ANSWERED, S.FORWARDED, S.RETURNED, S.MERGED}),
    S.RETURNED: frozenset({S.ASSIGNED, S.REJECTED, S.MERGED}),
    S.ANSWERED: frozenset({S.CLOSED, S.IN_PROGRESS, S.ANSWERED}),
    S.CLOSED: frozenset({S.REOPENED}),
    S.REJECTED: frozenset({S.REOPENED}),
    S.REOPENED: frozenset({S.IN_PROGRESS, S.ANSWERED, S.FORWARDED, S.RETURNED, S.MERGED}),
    S.MERGED: frozenset(),
}

# Cases a department still owes an answer: the reply queue.
AWAITING_REPLY: frozenset[CaseStatus] = frozenset(
    {S.ASSIGNED, S.IN_PROGRESS, S.FORWARDED, S.REOPENED}
)
# Cases nobody has placed yet: the triage queue.
AWAITING_TRIAGE: frozenset[CaseStatus] = frozenset({S.RECEIVED, S.ACCEPTED, S.RETURNED})
OPEN: frozenset[CaseStatus] = frozenset(AWAITING_REPLY | AWAITING_TRIAGE | {S.ANSWERED})
# A reply from staff is allowed while the case is with a department.
REPLYABLE: frozenset[CaseStatus] = frozenset(AWAITING_REPLY | {S.ANSWERED})


class EventKind(enum.StrEnum):
    TRANSITION = "transition"
    REPLY = "reply"
    MESSAGE = "message"  # the citizen wrote again on an open case
    CLASSIFIED = "classified"
    RATED = "rated"
    ALERT = "alert"  # urgent or collective: staff are alerted
    PAUSED = "paused"  # waiting for the citizen: the deadlines stop
    RESUMED = "resumed"
    ESCALATED = "escalated"  # overdue: one rung up the ladder
    VISITED = "visited"  # the return visit's answer (回访)
    SUPERVISED = "supervised"  # a supervision order's step (督办): see domain.supervision
    OWNED = "owned"  # a leader took ownership, or its terms changed (包案)
    INCIDENT = "incident"  # a report joined or left this incident, or was suggested for it
    PUBLICATION = "publication"  # the public board: consent, withheld, released, approved


@dataclass(frozen=True, slots=True)
class CaseEvent:
    kind: EventKind
    at: datetime
    actor: str
    from_status: CaseStatus | None = None
    to_status: CaseStatus | None = None
    reason: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(slots=True)
class Case:
    number: str
    citizen_id: int
    channel: Channel
    reply_to: str  # the citizen's address: where answers go
    summary: str
    language: Language
    created_at: datetime
    accept_due_at: datetime
    complete_due_at: datetime
    category: str | None = None
    department: str | None = None
    status: CaseStatus = CaseStatus.RECEIVED
    urgent: bool = False
    collective: bool = False  # many people, joint letters, threats to escalate (集体访)
    place: str | None = None
    subcategory: str | None = None
    location: tuple[float, float] | None = None  # latitude, longitude, when the citizen shared it
    # Where answers go when not on ``channel``: a hotline caller's answers go by SMS (with
    # consent) or become a call-back task on the hotline channel.
    reply_channel: Channel | None = None
    reply_due_at: datetime | None = None  # the first answer to the citizen
    accepted_at: datetime | None = None
    declined_at: datetime | None = None  # first declined (不予受理), when never accepted before
    first_reply_at: datetime | None = None
    closed_at: datetime | None = None
    paused_since: datetime | None = None  # waiting for the citizen: deadlines stand still
    outcome: Outcome | None = None  # which of the five outcomes (五个到位) closed it
    legal_matter: bool = False  # 涉法涉诉: the courts' business, the citizen was told so
    satisfaction: Satisfaction | None = None
    solved: bool | None = None
    visit_status: VisitStatus | None = None
    second_review: bool = False  # reopened once after a dissatisfied return visit
    escalation_level: int = 0  # the highest rung of the ladder reached
    district: str | None = None  # where it happened, when the place names one
    unit: str | None = None  # the unit (domain.units) its place lies in; None: none known
    reporters: int = 1  # citizens who reported this incident (merged reports included)
    incident_signature: str | None = None  # what it names, for grouping (domain.incidents)
    classified_by: str | None = None
    confidence: float | None = None
    merged_into: str | None = None
    resolution: str | None = None
    rating: int | None = None
    updated_at: datetime | None = None
    id: int | None = None
    events: list[CaseEvent] = field(default_factory=list)
    pending_events: list[CaseEvent] = field(default_factory=list)

    @property
    def answer_channel(self) -> Channel:
        return self.reply_channel or self.channel

    def transition(
        self,
        target: CaseStatus,
        *,
        actor: str,
        at: datetime,
        reason: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> CaseEvent:
        if target not in TRANSITIONS[self.status]:
            raise IllegalTransition(self.number, self.status, target)
        event = CaseEvent(
            kind=EventKind.TRANSITION,
            at=at,
            actor=actor,
            from_status=self.status,
            to_status=target,
            reason=reason,
            data=data or {},
        )
        self.status = target
        self.updated_at = at
        if target == S.ACCEPTED and self.accepted_at is None:
            self.accepted_at = at
        if target == S.REJECTED and self.accepted_at is None and self.declined_at is None:
            self.declined_at = at  # the rates' decision on acceptance, with accepted_at
        if target == S.CLOSED:
            self.closed_at = at
        self.record(event)
        return event

    def record(self, event: CaseEvent) -> None:
        """Add a history event; the repository writes pending events with the case."""
        self.events.append(event)
        self.pending_events.append(event)

    # Business actions -------------------------------------------------------------------

    def accept(self, *, actor: str, at: datetime, reason: str | None = None) -> None:
        self.transition(S.ACCEPTED, actor=actor, at=at, reason=reason)

    def assign(
        self, department: str, *, actor: str, at: datetime, reason: str | None = None
    ) -> None:
        if self.status == S.RECEIVED:
            self.accept(actor=actor, at=at)
        self.transition(
            S.ASSIGNED, actor=actor, at=at, reason=reason, data={"department": department}
        )
        self.department = department

    def forward(
        self,
        department: str,
        *,
        actor: str,
        at: datetime,
        reason: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        """转办, and the moves along the units' tree built on it (``domain.handing``), whose
        ``data`` says how and where the case went."""
        _require(reason, "a forward needs a reason")
        if department == self.department:
            raise InvalidInput(f"case {self.number} is already with {department}")
        self.transition(
            S.FORWARDED,
            actor=actor,
            at=at,
            reason=reason,
            data={"from_department": self.department, "department": department, **(data or {})},
        )
        self.department = department

    def return_misrouted(self, *, actor: str, at: datetime, reason: str) -> None:
        _require(reason, "a return (退单) needs a reason")
        self.transition(
            S.RETURNED, actor=actor, at=at, reason=reason, data={"from_department": self.department}
        )
        self.department = None

    def mark_answered(self, *, actor: str, at: datetime) -> None:
        if self.first_reply_at is None:
            self.first_reply_at = at
        if self.status != S.ANSWERED:
            self.transition(S.ANSWERED, actor=actor, at=at)

    def close(
        self,
        *,
        actor: str,
        at: datetime,
        resolution: str,
        outcome: Outcome | None = None,
        legal_matter: bool = False,
    ) -> None:
        _require(resolution, "closing needs a resolution summary")
        data: dict[str, Any] = {}
        if outcome is not None:
            data["outcome"] = str(outcome)
        if legal_matter:
            data["legal_matter"] = True
        self.transition(S.CLOSED, actor=actor, at=at, reason=resolution, data=data)
        self.resolution = resolution
        self.outcome = outcome
        self.legal_matter = legal_matter
        self.visit_status = None  # a new close gets a new return visit
        self.satisfaction = None
        self.solved = None

    def reject(self, *, actor: str, at: datetime, reason: str) -> None:
        _require(reason, "a rejection needs a reason")
        self.transition(S.REJECTED, actor=actor, at=at, reason=reason)

    def merge_into(
        self,
        other: str,
        *,
        actor: str,
        at: datetime,
        reason: str | None = None,
        counted: bool = False,
    ) -> None:
        """Merge into ``other``; ``counted``: the other case counts this citizen among its
        reporters (an incident), so an unmerge takes them off again."""
        if other == self.number:
            raise InvalidInput("a case cannot be merged into itself")
        data: dict[str, Any] = {"into": other}
        if counted:
            data["counted"] = True
        self.transition(S.MERGED, actor=actor, at=at, reason=reason, data=data)
        self.merged_into = other

    def last_merge(self) -> CaseEvent | None:
        """The transition that merged the case (needs the case's history)."""
        return next(
            (
                e
                for e in reversed(self.events)
                if e.kind == EventKind.TRANSITION and e.to_status == S.MERGED
            ),
            None,
        )

    def unmerge(self, *, actor: str, at: datetime, reason: str) -> CaseEvent:
        """Undo the merge: the case is its citizen's own again, in the state it had before
        (its messages, replies and history never left it). Returns the merge undone."""
        _require(reason, "an unmerge needs a reason")
        merge = self.last_merge()
        if self.status != S.MERGED or self.merged_into is None or merge is None:
            raise InvalidInput(f"case {self.number} is not merged")
        if merge.from_status is None:
            raise InvalidInput(f"case {self.number}: its state before the merge is unknown")
        self.record(
            CaseEvent(
                kind=EventKind.TRANSITION,
                at=at,
                actor=actor,
                from_status=S.MERGED,
                to_status=merge.from_status,
                reason=reason,
                data={"unmerged_from": self.merged_into},
            )
        )
        self.status = merge.from_status
        self.merged_into = None
        self.updated_at = at
        return merge

    def rate(self, score: int, *, actor: str, at: datetime) -> None:
        """The citizen's 1-5 rating of a closed case; given once."""
        if self.status != S.CLOSED:
            raise InvalidInput(f"case {self.number} is not closed yet")
        if self.rating is not None:
            raise InvalidInput(f"case {self.number} is already rated")
        if not 1 <= score <= 5:
            raise InvalidInput("a rating is a number from 1 to 5")
        self.rating = score
        self.updated_at = at
        self.record(CaseEvent(kind=EventKind.RATED, at=at, actor=actor, data={"rating": score}))

    def reopen(self, *, actor: str, at: datetime, reason: str) -> None:
        _require(reason, "reopening needs a reason")
        self.transition(S.REOPENED, actor=actor, at=at, reason=reason)

    # Governance ---------------------------------------------------------------------------

    def pause(self, *, actor: str, at: datetime, reason: str) -> None:
        """Wait for the citizen (more details, a site visit they must attend): the clock
        stops until ``resume``."""
        _require(reason, "pausing needs a reason")
        if self.paused_since is not None:
            raise InvalidInput(f"case {self.number} is already waiting for the citizen")
        if self.status not in OPEN:
            raise InvalidInput(f"case {self.number} is {self.status}: nothing to pause")
        self.paused_since = at
        self.updated_at = at
        self.record(CaseEvent(EventKind.PAUSED, at=at, actor=actor, reason=reason))

    def resume(self, *, actor: str, at: datetime, calendar: WorkCalendar) -> None:
        """The citizen answered: every deadline moves on by the working time spent waiting."""
        if self.paused_since is None:
            return
        waited = calendar.working_time_between(self.paused_since, at)
        self.accept_due_at = calendar.add_working_time(self.accept_due_at, waited)
        self.complete_due_at = calendar.add_working_time(self.complete_due_at, waited)
        if self.reply_due_at is not None:
            self.reply_due_at = calendar.add_working_time(self.reply_due_at, waited)
        self.paused_since = None
        self.updated_at = at
        self.record(
            CaseEvent(
                EventKind.RESUMED,
                at=at,
                actor=actor,
                data={"waited_seconds": int(waited.total_seconds())},
            )
        )

    def record_visit(
        self,
        satisfaction: Satisfaction | None,
        *,
        solved: bool | None,
        actor: str,
        at: datetime,
    ) -> bool:
        """The return visit's answer (None: the citizen could not be reached). A dissatisfied
        or unsolved answer reopens the case, once; True when it did."""
        if self.status != S.CLOSED:
            raise InvalidInput(f"case {self.number} is not closed: no return visit yet")
        if self.visit_status in (VisitStatus.ANSWERED, VisitStatus.UNREACHABLE):
            raise InvalidInput(f"case {self.number} already had its return visit")
        self.updated_at = at
        if satisfaction is None:
            self.visit_status = VisitStatus.UNREACHABLE
            self.record(CaseEvent(EventKind.VISITED, at=at, actor=actor, data={"reached": False}))
            return False
        self.visit_status = VisitStatus.ANSWERED
        self.satisfaction = satisfaction
        self.solved = solved
        self.rating = satisfaction.rating
        data = {"reached": True, "satisfaction": str(satisfaction), "solved": solved}
        self.record(CaseEvent(EventKind.VISITED, at=at, actor=actor, data=data))
        unhappy = satisfaction == Satisfaction.DISSATISFIED or solved is False
        if unhappy and not self.second_review:
            self.second_review = True
            # The citizen's answer reopens it, whoever recorded the answer.
            self.reopen(actor="citizen", at=at, reason="return visit: dissatisfied or unsolved")
            return True
        return False


def _require(text: str | None, message: str) -> None:
    if not text or not text.strip():
        raise InvalidInput(message)
