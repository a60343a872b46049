"""Grouping reports of one event into one incident (see ``domain.incidents``).

A new case that reports an open incident is merged into the incident's first case (the
lead): staff see one case with N reporters and answer it once (``handlers.staff.reply_to_all``
copies the answer to every reporter on their own channel), and the rates, which leave merged
cases out, count the incident once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from civicline.domain.cases import Case, CaseEvent, CaseStatus, EventKind
from civicline.domain.incidents import IncidentPolicy, Report, same_incident
from civicline.domain.taxonomy import Taxonomy
from civicline.storage.base import UnitOfWork

log = logging.getLogger(__name__)

ACTOR = "system:incidents"
MAX_CANDIDATES = 500


def report_of(case: Case, taxonomy: Taxonomy, policy: IncidentPolicy) -> Report:
    subcategory = case.subcategory
    if subcategory is None:  # unplaced, or the NLU chose another category: an outage is
        anywhere = taxonomy.subcategory_anywhere(case.summary)  # still an outage
        if anywhere is not None and anywhere.code in policy.area_wide:
            subcategory = anywhere.code
    return Report(
        number=case.number,
        text=case.summary,
        created_at=case.created_at,
        category=case.category,
        subcategory=subcategory,
        district=case.district,
        place=case.place,
    )


async def join_incident(
    case: Case, *, uow: UnitOfWork, taxonomy: Taxonomy, policy: IncidentPolicy, now: datetime
) -> Case | None:
    """Merge ``case`` into the open incident it reports, if any; returns the lead case."""
    new = report_of(case, taxonomy, policy)
    best: tuple[float, Case] | None = None
    window = await uow.cases.recent_open(
        since=now - policy.window, until=now + policy.window, limit=MAX_CANDIDATES
    )
    for other in window:
        if other.number == case.number or other.status == CaseStatus.MERGED:
            continue
        score = same_incident(new, report_of(other, taxonomy, policy), policy)
        if score > 0 and (best is None or score > best[0]):
            best = (score, other)
    if best is None:
        return None
    lead = await uow.cases.by_number(best[1].number, lock=True)
    case.merge_into(lead.number, actor=ACTOR, at=now, reason="same incident")
    lead.reporters += 1
    lead.record(
        CaseEvent(
            EventKind.MESSAGE,
            at=now,
            actor=ACTOR,
            data={"reported_again": case.number, "reporters": lead.reporters},
        )
    )
    if case.urgent and not lead.urgent:
        lead.urgent = True  # one urgent report makes the incident urgent
    await uow.cases.save(case)
    await uow.cases.save(lead)
    log.info("report joined an incident", extra={"case": case.number, "lead": lead.number})
    return lead
