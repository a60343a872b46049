"""Supervision orders (督办): a supervisor demands a written response on a case by a deadline.

The order goes to the case's department. Its staff answer it in writing; the supervisor then
closes it (the answer is accepted) or sends it back with a note, which opens it again for a
new answer. While it is open the department is reminded once it falls due within a day and
again once it is overdue, at most once in any 24 hours (催办), so a scheduler running every
minute never floods a department.

An answer counts as on time when it came before the deadline; an answer that was sent back
no longer counts, only the one that stands.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from civicline.domain.errors import DomainError, IllegalTransition, InvalidInput

MAX_TEXT = 4000  # instruction, response and notes
MAX_DUE_WORKING_DAYS = 60
REMIND_WITHIN = timedelta(days=1)  # an open order due sooner than this gets a reminder
REMIND_EVERY = timedelta(days=1)  # and never more than one per order in this span


class OrderStatus(enum.StrEnum):
    OPEN = "open"  # waiting for the department's written response
    ANSWERED = "answered"  # waiting for the supervisor to accept or send it back
    CLOSED = "closed"  # the response was accepted


class OrderStep(enum.StrEnum):
    """What happened to an order; each step is a case event (``EventKind.SUPERVISED``)."""

    ISSUED = "issued"
    ANSWERED = "answered"
    CLOSED = "closed"
    SENT_BACK = "sent_back"
    REMINDED = "reminded"


class IllegalOrderStep(IllegalTransition):
    """The order's state does not allow the step (answering a closed order, …): 409."""

    def __init__(self, order_id: int | None, status: OrderStatus, step: OrderStep) -> None:
        # A conflict like a case's illegal transition (409), with the order's own message.
        DomainError.__init__(self, f"supervision order {order_id} is {status}: cannot be {step}")
        self.number = str(order_id)
        self.current = str(status)
        self.target = str(step)


@dataclass(slots=True)
class SupervisionOrder:
    case_id: int
    issued_by: str
    issued_at: datetime
    due_at: datetime
    instruction: str
    status: OrderStatus = OrderStatus.OPEN
    response: str | None = None
    responded_by: str | None = None
    responded_at: datetime | None = None
    reminders: int = 0
    reminded_at: datetime | None = None
    id: int | None = None
    # Read with the order, not stored on it: the case it belongs to, and that case's
    # department (the one that answers).
    case_number: str | None = None
    department: str | None = None

    @classmethod
    def issue(
        cls, case_id: int, *, instruction: str, due_at: datetime, by: str, at: datetime
    ) -> SupervisionOrder:
        instruction = required(instruction, "a supervision order needs a written instruction")
        if due_at <= at:
            raise InvalidInput("a supervision order's deadline must be in the future")
        return cls(case_id, issued_by=by, issued_at=at, due_at=due_at, instruction=instruction)

    def overdue(self, now: datetime) -> bool:
        return self.status == OrderStatus.OPEN and self.due_at < now

    def answer(self, response: str, *, by: str, at: datetime) -> None:
        response = required(response, "a response to a supervision order needs text")
        self._expect(OrderStatus.OPEN, OrderStep.ANSWERED)
        self.status = OrderStatus.ANSWERED
        self.response, self.responded_by, self.responded_at = response, by, at

    def close(self) -> None:
        """The supervisor accepts the response."""
        self._expect(OrderStatus.ANSWERED, OrderStep.CLOSED)
        self.status = OrderStatus.CLOSED

    def send_back(self, *, due_at: datetime | None, at: datetime) -> None:
        """The response does not do: open again for a new one (the old one stays in the
        case's history). The deadline stands unless a new one is given."""
        self._expect(OrderStatus.ANSWERED, OrderStep.SENT_BACK)
        if due_at is not None:
            if due_at <= at:
                raise InvalidInput("a new deadline must be in the future")
            self.due_at = due_at
        self.status = OrderStatus.OPEN
        self.response = self.responded_by = self.responded_at = None

    def wants_reminder(self, now: datetime) -> bool:
        """Open, due within a day (or overdue), and not reminded in the last 24 hours."""
        return (
            self.status == OrderStatus.OPEN
            and self.due_at - now <= REMIND_WITHIN
            and (self.reminded_at is None or now - self.reminded_at >= REMIND_EVERY)
        )

    def _expect(self, status: OrderStatus, step: OrderStep) -> None:
        if self.status != status:
            raise IllegalOrderStep(self.id, self.status, step)


def required(text: str | None, message: str, *, limit: int = MAX_TEXT) -> str:
    text = (text or "").strip()
    if not text:
        raise InvalidInput(message)
    if len(text) > limit:
        raise InvalidInput(f"at most {limit} characters")
    return text


@dataclass(frozen=True, slots=True)
class SupervisionCounts:
    """One department's orders issued in a period (a report row). ``issued`` is the sum of
    the next three; ``overdue`` is the part of ``still_open`` past its deadline."""

    department: str | None
    issued: int
    answered_on_time: int
    answered_late: int
    still_open: int
    overdue: int
