"""What the gateway would do with each answer of an engine, counted: the figures that matter.

For a real complaint: turned away (no case: the gate or small talk), sent to triage (a case no
department gets until a person places it), routed right or routed wrong (its category, at the
routing threshold). For what is not a complaint (a negatives file): the share that would open a
case anyway. The decisions are the gateway's own (``base.opens_case``, ``base.routed_category``,
``urgency.assess``), so these figures are what a city would see.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from civicline.domain.taxonomy import Taxonomy
from civicline.nlu.base import Classification, opens_case, routed_category
from civicline.nlu.urgency import assess

SHORT_CHARS = 30
"""A complaint shorter than this is short ("楼下烧烤太吵了"): counted apart, as it is the kind a
gate most easily mistakes for small talk."""

TRIAGE, NO_CASE = "(triage)", "(no case)"
"""What stands for the category in the per-category table when there is none."""


@dataclass(frozen=True, slots=True)
class Truth:
    """A complaint of the test set: its words, its category and, when known, its department."""

    text: str
    category: str
    department: str | None = None


def truth_of(text: str, category: str, matter: str | None, taxonomy: Taxonomy) -> Truth:
    """A complaint of ``category``; its department is known when ``matter`` names one of the
    category's sub-categories (by code or name)."""
    sub = taxonomy.subcategory_named(category, matter) if matter else None
    department = taxonomy.department_for(category, sub.code) if sub is not None else None
    return Truth(text, category, department)


@dataclass(frozen=True, slots=True)
class Outcomes:
    complaints: int = 0
    right: int = 0
    wrong: int = 0
    triage: int = 0
    turned_away: int = 0
    short: int = 0
    short_opened: int = 0
    departments_known: int = 0
    """Routed complaints whose right department is known (the test set names their matter)."""
    departments_right: int = 0
    negatives: int = 0
    negatives_opened: int = 0
    wrong_into: dict[str, int] = field(default_factory=dict)
    """Wrongly routed complaints by the category they went to."""

    @property
    def opened(self) -> int:
        return self.complaints - self.turned_away

    def share(self, n: int, of: int) -> float:
        return n / of if of else 0.0

    def to_dict(self) -> dict[str, Any]:
        def rate(n: int, of: int) -> float | None:
            return round(n / of, 4) if of else None

        return {
            "complaints": self.complaints,
            "routed_right": rate(self.right, self.complaints),
            "routed_wrong": rate(self.wrong, self.complaints),
            "triage": rate(self.triage, self.complaints),
            "turned_away": rate(self.turned_away, self.complaints),
            "complaints_opening_a_case": rate(self.opened, self.complaints),
            "short_complaints": self.short,
            "short_opening_a_case": rate(self.short_opened, self.short),
            "department_right_when_routed": rate(self.departments_right, self.departments_known),
            "negatives": self.negatives,
            "negatives_opening_a_case": rate(self.negatives_opened, self.negatives),
            "wrong_into": dict(self.wrong_into),
        }


def outcome_of(
    answer: Classification,
    *,
    text: str,
    categories: Collection[str],
    min_confidence: float,
) -> str:
    """The category the gateway routes the text to, ``TRIAGE`` or ``NO_CASE``."""
    urgent = assess(text).urgent
    if not opens_case(answer, min_confidence=min_confidence, urgent=urgent):
        return NO_CASE
    routed = routed_category(answer, categories, min_confidence=min_confidence)
    return TRIAGE if routed is None else routed


def count(
    truths: Sequence[Truth],
    answers: Sequence[Classification],
    *,
    categories: Collection[str],
    min_confidence: float,
    departments: Callable[[str, str | None], str] | None = None,
    negatives: Sequence[str] = (),
    negative_answers: Sequence[Classification] = (),
) -> Outcomes:
    """The outcomes of ``answers`` to ``truths`` (in order), and of ``negative_answers`` to the
    ``negatives``. ``departments`` names where the gateway routes a (category, sub-category)
    (``Taxonomy.department_for``), to check the department where the truth names it."""
    if len(truths) != len(answers) or len(negatives) != len(negative_answers):
        raise ValueError("one answer per text")
    tally: Counter[str] = Counter()
    wrong_into: Counter[str] = Counter()
    for truth, answer in zip(truths, answers, strict=True):
        got = outcome_of(
            answer, text=truth.text, categories=categories, min_confidence=min_confidence
        )
        is_short = len(truth.text.strip()) < SHORT_CHARS
        tally["short"] += is_short
        tally["short_opened"] += is_short and got != NO_CASE
        if got == NO_CASE:
            tally["turned_away"] += 1
        elif got == TRIAGE:
            tally["triage"] += 1
        elif got == truth.category:
            tally["right"] += 1
        else:
            tally["wrong"] += 1
            wrong_into[got] += 1
        if got not in (NO_CASE, TRIAGE) and truth.department and departments is not None:
            tally["departments_known"] += 1
            routed_to = departments(got, answer.subcategory)
            tally["departments_right"] += routed_to == truth.department
    opened = sum(
        outcome_of(a, text=t, categories=categories, min_confidence=min_confidence) != NO_CASE
        for t, a in zip(negatives, negative_answers, strict=True)
    )
    return Outcomes(
        complaints=len(truths),
        right=tally["right"],
        wrong=tally["wrong"],
        triage=tally["triage"],
        turned_away=tally["turned_away"],
        short=tally["short"],
        short_opened=tally["short_opened"],
        departments_known=tally["departments_known"],
        departments_right=tally["departments_right"],
        negatives=len(negatives),
        negatives_opened=opened,
        wrong_into=dict(wrong_into.most_common()),
    )


def format_outcomes(outcomes: Outcomes, *, min_confidence: float) -> str:
    """The figures as a few aligned lines."""
    n = outcomes.complaints
    lines = []
    if n:

        def pct(k: int, of: int = n) -> str:
            return f"{outcomes.share(k, of):6.1%} ({k})"

        lines += [
            f"at the routing threshold {min_confidence:.2f}, of {n} complaints:",
            f"  routed right        {pct(outcomes.right)}",
            f"  routed wrong        {pct(outcomes.wrong)}",
            f"  sent to triage      {pct(outcomes.triage)}",
            f"  turned away         {pct(outcomes.turned_away)}",
            f"  opened a case       {pct(outcomes.opened)}",
        ]
        if outcomes.short:
            lines.append(
                f"  short ones opening  {pct(outcomes.short_opened, outcomes.short)}"
                f" of {outcomes.short} under {SHORT_CHARS} characters"
            )
        if outcomes.departments_known:
            lines.append(
                "  right department    "
                f"{pct(outcomes.departments_right, outcomes.departments_known)} of "
                f"{outcomes.departments_known} routed whose matter is known"
            )
        if outcomes.wrong_into:
            shown = ", ".join(f"{code} {k}" for code, k in list(outcomes.wrong_into.items())[:6])
            lines.append(f"  wrong ones went to  {shown}")
    if outcomes.negatives:
        share = outcomes.share(outcomes.negatives_opened, outcomes.negatives)
        lines.append(
            f"negatives opening a case: {share:.1%} ({outcomes.negatives_opened} of "
            f"{outcomes.negatives})"
        )
    return "\n".join(lines)
