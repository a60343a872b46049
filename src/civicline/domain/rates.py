"""The rates a 12345 hotline is judged by, each defined once, for the console's dashboard, the
rates API, ``/metrics`` and the CSV exports (the counting is SQL's: ``storage.stats``; what
is counted is told in ``handlers.rates``).

A rate with nothing due is no figure (None; JSON null, CSV empty), never 0 % or 100 %.

Satisfaction (满意率) is the return visit's (回访): answers 满意 (satisfied) and 基本满意
(basically satisfied), both shown, over all answers; the headline counts both.
"""

from __future__ import annotations

from typing import Protocol

RATE_NAMES = (
    "timely_acceptance",
    "completion",
    "reply",
    "return_visit",
    "unreachable",
    "satisfaction",
    "repeat",
)


def rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def rate_cell(value: float | None) -> str:
    """A rate in a CSV cell: four places, empty when there is no figure."""
    return "" if value is None else f"{value:.4f}"


class AcceptanceCounts(Protocol):
    @property
    def accepted_in_time(self) -> int: ...
    @property
    def accept_due(self) -> int: ...


class CompletionCounts(Protocol):
    @property
    def completed_in_time(self) -> int: ...
    @property
    def complete_due(self) -> int: ...


class ReportCounts(AcceptanceCounts, CompletionCounts, Protocol):
    @property
    def cases(self) -> int: ...
    @property
    def replied_in_time(self) -> int: ...
    @property
    def reply_due(self) -> int: ...
    @property
    def visits(self) -> int: ...
    @property
    def visits_answered(self) -> int: ...
    @property
    def visits_unreachable(self) -> int: ...
    @property
    def satisfied(self) -> int: ...
    @property
    def basic(self) -> int: ...
    @property
    def repeats(self) -> int: ...


def timely_acceptance(c: AcceptanceCounts) -> float | None:
    """及时受理率: acceptance decided by its deadline, over acceptances due."""
    return rate(c.accepted_in_time, c.accept_due)


def completion(c: CompletionCounts) -> float | None:
    """按期办结率: closed by the completion deadline, over completions due."""
    return rate(c.completed_in_time, c.complete_due)


def rates_of(c: ReportCounts) -> dict[str, float | None]:
    """Every rate of one group's counts, by name (``RATE_NAMES``)."""
    return {
        "timely_acceptance": timely_acceptance(c),
        "completion": completion(c),
        "reply": rate(c.replied_in_time, c.reply_due),
        "return_visit": rate(c.visits_answered, c.visits),
        "unreachable": rate(c.visits_unreachable, c.visits),
        "satisfaction": rate(c.satisfied + c.basic, c.visits_answered),
        "repeat": rate(c.repeats, c.cases),
    }
