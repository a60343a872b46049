"""Leader ownership of hard backlog cases (包案) and the backlog list (积案).

Supervisors and admins give a case its responsible leader, working group, resolution plan and
supervising leader, and may change them later; each assignment or change is a case event
(``EventKind.OWNED``) naming what changed, with the plan as it then stood. The backlog is every
case still open after a number of calendar days, oldest first, for the department's staff
(their department only) and for supervisors (all).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from civicline.domain.accounts import StaffUser
from civicline.domain.cases import CaseEvent, EventKind
from civicline.domain.errors import InvalidInput, NotAllowed
from civicline.domain.ownership import BacklogEntry, CaseOwner
from civicline.handlers.access import check_access
from civicline.handlers.supervision import may_supervise
from civicline.storage.base import UnitOfWork

log = logging.getLogger(__name__)

MAX_BACKLOG_DAYS = 3650


@dataclass(frozen=True, slots=True)
class Terms:
    """What a leader's ownership states: ``CaseOwner.assign`` and ``update`` take these names."""

    leader: str
    supervising_leader: str
    working_group: list[str]
    plan: str


@dataclass(frozen=True, slots=True)
class Assigned:
    owner: CaseOwner
    created: bool
    changed: list[str]  # the fields that changed (all four when created)


async def assign(
    number: str, terms: Terms, *, user: StaffUser, uow: UnitOfWork, now: datetime
) -> Assigned:
    """Give the case a leader, or change the terms; nothing is recorded when nothing changed."""
    if not may_supervise(user):
        raise NotAllowed(f"{user.username} may not assign leader ownership")
    async with uow:
        case = await uow.cases.by_number(number, lock=True)
        check_access(user, case)
        assert case.id is not None
        if case.merged_into:
            raise InvalidInput(f"case {number} is merged into {case.merged_into}: own that one")
        owner = await uow.ownership.get(case.id)
        created = owner is None
        if owner is None:
            owner = CaseOwner.assign(case.id, **asdict(terms), by=user.actor, at=now)
            changed = ["leader", "supervising_leader", "working_group", "plan"]
        else:
            changed = owner.update(**asdict(terms), at=now)
            if not changed:
                return Assigned(owner, created=False, changed=[])
        await uow.ownership.save(owner)
        case.record(
            CaseEvent(
                EventKind.OWNED,
                at=now,
                actor=user.actor,
                reason=owner.plan,
                data={
                    "change": "assigned" if created else "updated",
                    "changed": changed,
                    "leader": owner.leader,
                    "supervising_leader": owner.supervising_leader,
                    "working_group": list(owner.working_group),
                },
            )
        )
        case.updated_at = now
        await uow.cases.save(case)
        await uow.commit()
    # Not "created": that is a LogRecord attribute, and logging refuses to overwrite it.
    log.info(
        "case ownership", extra={"case": number, "change": "assigned" if created else "updated"}
    )
    return Assigned(owner, created, changed)


async def owner_of(number: str, *, user: StaffUser, uow: UnitOfWork) -> CaseOwner | None:
    async with uow:
        case = await uow.cases.by_number(number)
        check_access(user, case)
        assert case.id is not None
        return await uow.ownership.get(case.id)


async def backlog(
    *,
    min_age_days: int,
    department: str | None,
    user: StaffUser,
    uow: UnitOfWork,
    now: datetime,
    limit: int = 100,
    offset: int = 0,
) -> list[BacklogEntry]:
    """Cases open for at least ``min_age_days`` calendar days, oldest first."""
    if not 0 <= min_age_days <= MAX_BACKLOG_DAYS:
        raise InvalidInput(f"min_age_days is from 0 to {MAX_BACKLOG_DAYS}")
    department, unit = user.narrowed(department)
    async with uow:
        return await uow.ownership.backlog(
            opened_before=now - timedelta(days=min_age_days),
            department=department,
            limit=limit,
            offset=offset,
            unit=unit,
        )
