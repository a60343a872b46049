"""Grouping reports of one event into one incident (the rules: ``domain.incidents``).

A new case is indexed by its keys (places, the area of an outage, MinHash bands of its words)
and compared with the open reports of its window that share the most of them, newest first:
one indexed query, whatever the number of open cases. A sure match merges it into the
incident's first case (the lead): staff see one case with N reporters and answer it once
(``handlers.case_actions.reply_to_all`` copies the answer to every reporter on their own channel),
and the rates, which leave merged cases out, count the incident once. An unsure match becomes
a suggestion staff confirm or dismiss (``handlers.incident_review``), where a wrong merge can
also be undone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from civicline.domain.cases import OPEN, Case, CaseEvent, EventKind
from civicline.domain.incidents import (
    Candidate,
    IncidentPolicy,
    Match,
    Matter,
    Relation,
    Report,
    Signature,
    Verdict,
    compare,
    exclusive,
    keys,
    matter,
    relation,
)
from civicline.domain.taxonomy import Taxonomy
from civicline.nlu.addresses import signature
from civicline.nlu.base import Entity
from civicline.storage.base import BatchUnitOfWork, UnitOfWork

log = logging.getLogger(__name__)

ACTOR = "system:incidents"
_OPEN = frozenset(str(s) for s in OPEN)


def report_of(
    case: Case,
    *,
    taxonomy: Taxonomy,
    policy: IncidentPolicy,
    entities: tuple[Entity, ...] | None = None,
) -> Report:
    """The case as incident grouping sees it (``entities``: those of its summary, if known);
    its signature is read from the case when it has one."""
    if case.incident_signature is not None:
        found = Signature.decode(case.incident_signature)
    else:
        text = case.summary
        if case.place and case.place not in text:  # a place the citizen gave apart
            text, entities = f"{case.place} {text}", None
        found = signature(text, taxonomy=taxonomy, policy=policy, entities=entities)
    return Report(
        number=case.number,
        citizen_id=case.citizen_id,
        text=case.summary,
        created_at=case.created_at,
        district=case.district,
        signature=found,
    )


def sign(
    case: Case,
    *,
    taxonomy: Taxonomy,
    policy: IncidentPolicy,
    entities: tuple[Entity, ...] | None = None,
) -> Report:
    """Give a case about to be stored its signature (stored with it, in the same insert)."""
    report = report_of(case, taxonomy=taxonomy, policy=policy, entities=entities)
    case.incident_signature = report.signature.encode()
    return report


@dataclass(frozen=True, slots=True)
class Choice:
    verdict: Verdict
    lead: Candidate  # the incident's case (the candidate itself, or the case it joined)


async def join_incident(
    case: Case, report: Report, *, uow: UnitOfWork, policy: IncidentPolicy, now: datetime
) -> Case | None:
    """Index the stored ``case`` (``report``: from ``sign``), then merge it into the open
    incident it surely reports (returns the lead) or record suggestions for the incidents it
    may report (returns None)."""
    assert case.id is not None
    found = keys(case.summary, case.district, report.signature)
    candidates = await uow.incidents.index_and_find(
        case.id,
        case.created_at,
        found,
        since=case.created_at - policy.window,
        until=case.created_at + policy.window,
        limit=policy.candidates,
        serialise=exclusive(found),
    )
    lead, suggested = await _decide(
        case,
        report,
        candidates,
        uow=uow,
        policy=policy,
        now=now,
        lookup=uow.incidents.report,
        lock=lambda number: uow.cases.by_number(number, lock=True),
        keep=partial(_save, uow),
    )
    await uow.incidents.suggest(suggested, at=now)
    return lead


async def _decide(
    case: Case,
    report: Report,
    candidates: list[Candidate],
    *,
    uow: UnitOfWork,
    policy: IncidentPolicy,
    now: datetime,
    lookup: Lookup,
    lock: Callable[[str], Awaitable[Case]],
    keep: Callable[[Case, Case], Awaitable[None]],
) -> tuple[Case | None, list[tuple[int, int, float, str]]]:
    """Merge ``case`` into the incident it surely reports (the lead, read with ``lock``; both
    handed to ``keep``), or the suggestions to record for the incidents it may report."""
    assert case.id is not None
    choices = await choose(report, candidates, policy=policy, lookup=lookup)
    if choices and choices[0].verdict.match == Match.MERGE:
        lead = await lock(choices[0].lead.report.number)
        join(case, lead, actor=ACTOR, at=now, reason=choices[0].verdict.reason)
        await keep(case, lead)
        log.info("report joined an incident", extra={"case": case.number, "lead": lead.number})
        return lead, []
    # An outage elsewhere in the district is suggested only when nothing closer is, once.
    near = [c for c in choices if not c.verdict.elsewhere][: policy.suggestions]
    picked = near or [c for c in choices if c.verdict.elsewhere][:1]
    return None, [(case.id, c.lead.case_id, c.verdict.score, c.verdict.reason) for c in picked]


async def _save(uow: UnitOfWork, case: Case, lead: Case) -> None:
    await uow.cases.save(case)
    await uow.cases.save(lead)


async def group_batch(
    cases: Sequence[Case],
    reports: Sequence[Report],
    *,
    uow: BatchUnitOfWork,
    policy: IncidentPolicy,
    now: datetime,
) -> None:
    """``join_incident`` for each of the stored ``cases`` (``reports``: from ``sign``) in
    order, with the index read once for all: each is compared with the open reports of its
    window and with the batch's earlier ones, as if they had been grouped one after another."""
    found = [keys(c.summary, c.district, r.signature) for c, r in zip(cases, reports, strict=True)]
    await uow.incidents.serialise(sorted({k for f in found for k in exclusive(f)}))
    since = min(c.created_at for c in cases) - policy.window
    until = max(c.created_at for c in cases) + policy.window
    stored = await uow.incidents.neighbours(
        sorted({k for f in found for k, _ in f}), since=since, until=until
    )
    # Which reports have each key: a report's score is the weight of the keys it shares.
    postings: dict[str, list[tuple[int, int]]] = {}
    for position, (_, weights) in enumerate(stored):
        for key, weight in weights.items():
            postings.setdefault(key, []).append((position, weight))
    pool: list[Candidate] = [candidate for candidate, _ in stored]
    earlier: dict[int, tuple[Case, Report]] = {}  # the batch's reports, by position in pool
    batch: dict[str, int] = {}

    # Stored incidents looked up once a batch: near-duplicates name the same few leads again
    # and again, and only this batch changes them meanwhile (their reporters, not their status).
    looked_up: dict[str, Candidate | None] = {}

    async def lookup(number: str) -> Candidate | None:
        if number in batch:
            return _in_batch(*earlier[batch[number]], shared=0)
        if number not in looked_up:
            looked_up[number] = await uow.incidents.report(number)
        return looked_up[number]

    # An incident's case is locked and read once: the lock is held to the batch's commit, so
    # the case read then is the case joined again (each join adds to its reporters).
    locked: dict[str, Case] = {}

    async def lock(number: str) -> Case:
        if number not in locked:
            locked[number] = await uow.cases.by_number(number, lock=True)
        return locked[number]

    # Written once, at the end: the batch's merged cases with one statement (no board entry
    # to follow yet, as the batch has just added them), and each incident's case once.
    merged: list[Case] = []

    async def keep(case: Case, lead: Case) -> None:
        merged.append(case)

    suggested: list[tuple[int, int, float, str]] = []
    for case, report, given in zip(cases, reports, found, strict=True):
        shared: dict[int, int] = {}
        for key, _ in given:
            for position, weight in postings.get(key, ()):
                shared[position] = shared.get(position, 0) + weight
        ranked = sorted(
            (
                (score, pool[p].report.created_at, pool[p].case_id, p)
                for p, score in shared.items()
                if abs(pool[p].report.created_at - case.created_at) <= policy.window
            ),
            reverse=True,
        )[: policy.candidates]
        candidates = [
            _in_batch(*earlier[p], shared=score) if p in earlier else pool[p]
            for score, _, _, p in ranked
        ]
        _, picked = await _decide(
            case,
            report,
            candidates,
            uow=uow,
            policy=policy,
            now=now,
            lookup=lookup,
            lock=lock,
            keep=keep,
        )
        suggested += picked
        position = len(pool)
        pool.append(_in_batch(case, report, shared=0))
        earlier[position], batch[case.number] = (case, report), position
        for key, weight in given:
            postings.setdefault(key, []).append((position, weight))
    await uow.filing.merged(merged)
    for lead in locked.values():
        await uow.cases.save(lead)
    await uow.incidents.suggest(suggested, at=now)
    await uow.incidents.index_many(
        [(c.id, c.created_at, f) for c, f in zip(cases, found, strict=True) if c.id is not None]
    )


def _in_batch(case: Case, report: Report, *, shared: int) -> Candidate:
    assert case.id is not None
    return Candidate(case.id, report, str(case.status), case.merged_into, case.department, shared)


Lookup = Callable[[str], Awaitable[Candidate | None]]


async def choose(
    new: Report,
    candidates: list[Candidate],
    *,
    policy: IncidentPolicy,
    lookup: Lookup,
) -> list[Choice]:
    """The incidents ``new`` may join, the surest first, one choice per incident. A report
    merged into an incident leads to that incident's case, which must still be open; a sure
    match with it is only suggested when the incident's own case names another place."""
    by_number = {c.report.number: c for c in candidates}
    verdicts = [(compare(new, c.report, policy), c) for c in candidates]
    chosen: dict[str, Choice] = {}
    for verdict, candidate in sorted(
        (item for item in verdicts if item[0]),
        key=lambda item: (item[0].match, item[0].score, item[1].report.created_at),
        reverse=True,
    ):
        lead = candidate
        if candidate.lead is not None:
            found = by_number.get(candidate.lead)
            if found is None:
                found = await lookup(candidate.lead)
                if found is not None:
                    by_number[candidate.lead] = found  # the next report merged into it
            if found is None or found.status not in _OPEN or found.lead is not None:
                continue
            lead = found
            if verdict.match == Match.MERGE and not _agrees(new, lead.report):
                verdict = Verdict(Match.SUGGEST, verdict.score, "the incident names another place")
        number = lead.report.number
        if number not in chosen or verdict.match > chosen[number].verdict.match:
            chosen[number] = Choice(verdict, lead)
    return sorted(chosen.values(), key=lambda c: (c.verdict.match, c.verdict.score), reverse=True)


def _agrees(new: Report, lead: Report) -> bool:
    where, _ = relation(new.signature, lead.signature)
    return where != Relation.CONFLICT and matter(new.signature, lead.signature) != Matter.DIFFERENT


def join(case: Case, lead: Case, *, actor: str, at: datetime, reason: str) -> None:
    """Merge ``case`` into the incident ``lead`` and count its citizen among the reporters."""
    case.merge_into(lead.number, actor=actor, at=at, reason=reason, counted=True)
    lead.reporters += 1
    lead.updated_at = at
    lead.record(
        CaseEvent(
            EventKind.INCIDENT,
            at=at,
            actor=actor,
            reason=reason,
            data={"reported_again": case.number, "reporters": lead.reporters},
        )
    )
    if case.urgent and not lead.urgent:
        lead.urgent = True  # one urgent report makes the incident urgent


async def index_unsigned(
    uow: Callable[[], UnitOfWork],
    *,
    taxonomy: Taxonomy,
    policy: IncidentPolicy,
    now: datetime,
    batch: int = 500,
) -> int:
    """Index the open cases of the window that have no signature yet (filed before grouping
    by index); returns how many. Each batch commits on its own."""
    done = 0
    while True:
        async with uow() as work:
            ids = await work.incidents.unsigned(
                since=now - policy.window, until=now + policy.window, limit=batch
            )
            for case_id in ids:
                case = await work.cases.get(case_id)
                report = sign(case, taxonomy=taxonomy, policy=policy)
                await work.cases.save(case)
                found = keys(case.summary, case.district, report.signature)
                await work.incidents.index(case_id, case.created_at, found)
            await work.commit()
        done += len(ids)
        if len(ids) < batch:
            return done
