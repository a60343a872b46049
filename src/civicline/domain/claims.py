"""The staff console's own rules: who holds a case, canned answers, locking out password guessers.

Standard library only, like the rest of the domain.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from civicline.domain.messages import Language

CLAIM_TTL = timedelta(minutes=15)
"""How long a claim lasts without activity; every reply or action renews it."""


@dataclass(frozen=True, slots=True)
class Claim:
    """One person working on one case, until ``expires_at``: two people never answer the same
    case. Taken and renewed with one atomic statement, so the database settles races."""

    case_id: int
    holder_id: int
    holder: str  # the holder's username, for "being handled by ..."
    claimed_at: datetime
    expires_at: datetime

    def live(self, now: datetime) -> bool:
        return self.expires_at > now

    def held_by(self, user_id: int | None, now: datetime) -> bool:
        return self.live(now) and self.holder_id == user_id


class ClaimRule(enum.StrEnum):
    """What a reply or an action asks of the claim.

    ``REQUIRE``: the user must already hold a live claim, which the action renews (the
    console: claim, then answer). ``RESPECT``: someone else's live claim refuses the action,
    but none is needed (the REST API, whose clients have no claim step).
    """

    REQUIRE = "require"
    RESPECT = "respect"


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """Lock a username after ``max_failures`` wrong passwords within ``window``, and a client
    address after ``max_client_failures`` (whatever names it tried), for ``lock_for``. Counted
    per username (existing or not, so the answer reveals nothing) and kept in the database, so
    every process and every way to sign in (console, API token) sees the same count."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lock_for: timedelta = timedelta(minutes=15)
    max_client_failures: int = 20

    def for_clients(self) -> LockoutPolicy:
        return replace(self, max_failures=self.max_client_failures)


@dataclass(frozen=True, slots=True)
class LoginFailures:
    username: str
    failures: int
    window_started_at: datetime
    locked_until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


@dataclass(slots=True)
class CannedReply:
    """A ready answer staff pick instead of typing; per category (None: any) and language."""

    title: str
    text: str
    language: Language
    updated_at: datetime
    updated_by: str
    category: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A signed-in browser. The cookie holds a random token; the database holds its hash."""

    id: str  # sha-256 of the cookie's token
    user_id: int
    csrf_token: str
    created_at: datetime
    expires_at: datetime

    def live(self, now: datetime) -> bool:
        return self.expires_at > now


class QueueKind(enum.StrEnum):
    REPLY = "reply"  # cases a department owes an answer, by completion deadline
    TRIAGE = "triage"  # cases nobody has placed yet, by acceptance deadline


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What one page of a queue shows. ``text`` searches the complaint; ``phone`` (digits
    only) searches the citizen's number and is set only for roles that may see numbers."""

    kind: QueueKind = QueueKind.REPLY
    department: str | None = None
    unit: str | None = None  # a unit's path: the cases of its subtree's departments only
    channel: str | None = None
    category: str | None = None
    urgent: bool = False
    overdue: bool = False
    number: str | None = None  # a case number, or its start
    text: str | None = None
    phone: str | None = None
    limit: int = 50
    offset: int = 0
