"""The public board (阳光信访): which answered matters the public may read, and how they are
found.

A case reaches the board only when its citizen consented (asked on the channel they used),
it is closed (办结), staff did not withhold it, and, where the city asks for it, a supervisor
reviewed it before its first publication. Each published case has an unguessable public id:
nothing on the board is addressed by case number, so no number can be guessed into a page.

Search words are matched on character bigrams of the *masked* text (Chinese has no spaces;
a bigram index finds 路灯 in 幸福路路灯坏了), so nothing masked can be found by searching
for it.
"""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime

PAGE_SIZE = 20
MAX_PAGE = 250  # deeper than 5,000 matters, narrow the search instead
MAX_WORDS = 50  # characters of search words
TITLE_LENGTH = 30


class BoardState(enum.StrEnum):
    ASKED = "asked"  # the question went to the citizen, no answer yet
    DECLINED = "declined"  # the citizen said no: never published
    REVIEW = "review"  # consented; a supervisor reviews it first (the city's setting)
    LISTED = "listed"  # published once it is closed
    WITHHELD = "withheld"  # staff withheld it, with a reason


class BoardAction(enum.StrEnum):
    WITHHOLD = "withhold"  # staff: off the board, with a reason
    RELEASE = "release"  # staff: back on the board (consent still stands)
    APPROVE = "approve"  # supervisor: the review before first publication


@dataclass(slots=True)
class BoardEntry:
    """A case's standing with the board: the consent, its state, and the masked text."""

    case_id: int
    public_id: str
    state: BoardState
    consent: bool | None
    title: str = ""
    text: str = ""  # masked
    terms: str = ""  # the masked text's bigrams, the search index's input
    filed_at: datetime | None = None
    # Copies of the case's, kept when the case is saved: what the board searches by.
    status: str = ""
    category: str | None = None
    department: str | None = None
    district: str | None = None
    answered_at: datetime | None = None
    reason: str | None = None  # why it was withheld
    decided_by: str | None = None  # who withheld, released or approved it last
    updated_at: datetime | None = None


def new_public_id() -> str:
    """16 URL-safe characters, 96 random bits: not derivable from the case."""
    return secrets.token_urlsafe(12)


def state_after_consent(consent: bool | None, *, review: bool) -> BoardState:
    if consent is None:
        return BoardState.ASKED
    if not consent:
        return BoardState.DECLINED
    return BoardState.REVIEW if review else BoardState.LISTED


_CLAUSE_END = re.compile(r"[，,。！？!?；;：:\n]")
# What public masking leaves for a name or a phone: a clause holding it says who, not what.
_MASKED = ("某某", "***")


def title_of(masked: str) -> str:
    """The first clause of the masked text that is about the matter (not "我叫某某" or
    "电话***"), cut to ``TITLE_LENGTH`` characters."""
    clauses = [c.strip() for c in _CLAUSE_END.split(masked) if c.strip()]
    about = [c for c in clauses if len(c) >= 4 and not any(m in c for m in _MASKED)]
    first = (about or clauses or [masked.strip()])[0]
    return first if len(first) <= TITLE_LENGTH else first[: TITLE_LENGTH - 1] + "…"


_WORD = re.compile(r"[0-9a-z]+|[^\W\d_a-z]+", re.IGNORECASE)
_LATIN = re.compile(r"[0-9a-z]+")


def terms_of(text: str) -> list[str]:
    """Search terms: each Latin word or number, lower-cased, and each pair of neighbouring
    characters in a run of CJK (one lone character stands for itself)."""
    terms: list[str] = []
    for run in _WORD.findall(text.lower()):
        if _LATIN.fullmatch(run) or len(run) == 1:
            terms.append(run)
        else:
            terms.extend(run[i : i + 2] for i in range(len(run) - 1))
    return terms


def index_text(text: str) -> str:
    """The terms as one space-separated string, each once."""
    return " ".join(dict.fromkeys(terms_of(text)))


@dataclass(frozen=True, slots=True)
class BoardQuery:
    """A search of the board; empty fields do not narrow it."""

    words: str = ""
    category: str | None = None
    department: str | None = None
    district: str | None = None
    since: date | None = None  # filed on or after (city date)
    until: date | None = None  # filed on or before
    page: int = 1

    @property
    def terms(self) -> list[str]:
        return list(dict.fromkeys(terms_of(self.words)))

    @property
    def is_search(self) -> bool:
        return bool(
            self.terms or self.category or self.department or self.district or self.since
        ) or bool(self.until)


@dataclass(frozen=True, slots=True)
class PublicCase:
    """What the board shows of one case: nothing that is not masked or public."""

    public_id: str
    title: str
    text: str
    category: str | None
    department: str | None
    district: str | None
    filed_at: datetime
    answered_at: datetime | None
    reply: str  # the resolution, masked
    satisfaction: str | None
    rating: int | None


@dataclass(frozen=True, slots=True)
class BoardPage:
    cases: list[PublicCase]
    page: int
    has_next: bool
