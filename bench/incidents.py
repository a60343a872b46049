"""Incident grouping: how right and how cheap, with the method it replaced as the baseline in
the same run.

1. **Right.** The labelled set of bench/incident_reports.py (several hundred complaints: true
   repeats of one event in varied words, and distinct events sharing matter, district and words
   but naming another building, compound, road, house number, bus line, date or hour) goes
   through what a real report does: the local classifier trained on the shipped data, the
   gazetteer, ``open_case`` with the incident policy, on a fresh database, one report after
   another over five hours. Printed: precision and recall of automatic merges, of suggestions,
   and of both together (a report counts as found when it was merged into, or suggested for,
   a case of its own event); and wrong merges whose two reports name different places.
2. **Cheap.** 5,000 (``--open``) open cases of a busy city are filed first (other buildings,
   house numbers and bus lines, the same matters and districts), then each probe report is
   opened and grouped twice, each time rolled back so every probe sees the same 5,000: with
   the old method and with the new one. Printed: process CPU per report of the grouping step
   alone (SQLite runs inside the process, so its work is counted; on PostgreSQL the server's
   CPU is printed apart).

The old method (main at c59e4a6, kept below): the 500 oldest open cases of the window as ORM
objects, each compared in Python by trigram similarity, category and district.

    .venv/bin/python bench/incidents.py [--seed 7] [--open 5000] [--probes 300] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from common import postgres_cpu
from incident_reports import background, labelled
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support
from tests.support.factories import Rules

from civicline.domain.cases import OPEN, Case, CaseEvent, CaseStatus, EventKind
from civicline.domain.citizens import ContactHandle
from civicline.domain.incidents import IncidentPolicy, relation
from civicline.domain.messages import Channel, InboundMessage, Language
from civicline.domain.taxonomy import Taxonomy
from civicline.handlers import cases as cases_handler
from civicline.handlers.cases import Reading, Routing, open_case, read_complaint
from civicline.handlers.incidents import index_unsigned, report_of
from civicline.nlu import training_data
from civicline.nlu.base import Classifier
from civicline.nlu.local import LocalClassifier
from civicline.storage import database
from civicline.storage.cases import case_from_row
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.tables import CaseRow, IncidentSuggestionRow
from civicline.storage.taxonomy_file import load_taxonomy
from civicline.storage.unit_of_work import SqlUnitOfWork

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 12, 7, 8, 0, tzinfo=SHANGHAI).astimezone(UTC)
SPAN = timedelta(hours=5)
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "civicline_bench_incidents"
POLICY = IncidentPolicy()


# --- the method before (main at c59e4a6), the baseline ------------------------------------------


def old_trigrams(text: str) -> frozenset[str]:
    import re
    import unicodedata

    plain = re.sub(r"[\s\W_]+", "", unicodedata.normalize("NFKC", text).casefold())
    if len(plain) < 3:
        return frozenset({plain}) if plain else frozenset()
    return frozenset(plain[i : i + 3] for i in range(len(plain) - 2))


def old_similarity(a: str, b: str) -> float:
    left, right = old_trigrams(a), old_trigrams(b)
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


@dataclass(frozen=True)
class OldReport:
    number: str
    text: str
    created_at: datetime
    category: str | None
    subcategory: str | None
    district: str | None
    place: str | None


AREA_WIDE = frozenset({"water_supply", "heating_gas"})


def old_same_incident(new: OldReport, old: OldReport) -> float:
    if abs(new.created_at - old.created_at) > timedelta(hours=6):
        return 0.0
    score = old_similarity(new.text, old.text)
    if new.district is not None and old.district is not None and new.district != old.district:
        return 0.0
    if score >= 0.6:
        return score
    same_district = new.district is not None and new.district == old.district
    if same_district and new.subcategory in AREA_WIDE:
        return max(score, 0.3) if new.subcategory == old.subcategory else 0.0
    same_kind = (
        new.category is not None
        and new.category == old.category
        and new.subcategory == old.subcategory
        and new.district is not None
        and new.district == old.district
    )
    if not same_kind:
        return 0.0
    same_place = new.place is not None and new.place == old.place
    return score if same_place or score >= 0.3 else 0.0


def old_report_of(case: Case, taxonomy: Taxonomy) -> OldReport:
    subcategory = case.subcategory
    if subcategory is None:
        anywhere = taxonomy.subcategory_anywhere(case.summary)
        if anywhere is not None and anywhere.code in AREA_WIDE:
            subcategory = anywhere.code
    return OldReport(
        case.number,
        case.summary,
        case.created_at,
        case.category,
        subcategory,
        case.district,
        case.place,
    )


async def old_join(case: Case, uow: SqlUnitOfWork, taxonomy: Taxonomy, now: datetime) -> None:
    window = timedelta(hours=6)
    rows = await uow.session.scalars(
        select(CaseRow)
        .where(
            CaseRow.created_at >= now - window,
            CaseRow.created_at <= now + window,
            CaseRow.status.in_([str(s) for s in OPEN]),
        )
        .order_by(CaseRow.created_at, CaseRow.id)
        .limit(500)
    )
    new = old_report_of(case, taxonomy)
    best: tuple[float, Case] | None = None
    for other in [case_from_row(r) for r in rows]:
        if other.number == case.number or other.status == CaseStatus.MERGED:
            continue
        score = old_same_incident(new, old_report_of(other, taxonomy))
        if score > 0 and (best is None or score > best[0]):
            best = (score, other)
    if best is None:
        return
    lead = await uow.cases.by_number(best[1].number, lock=True)
    case.merge_into(lead.number, actor="system:incidents", at=now, reason="same incident")
    lead.reporters += 1
    lead.record(CaseEvent(EventKind.MESSAGE, at=now, actor="system:incidents"))
    await uow.cases.save(case)
    await uow.cases.save(lead)


# --- running reports through open_case ----------------------------------------------------------


@contextmanager
def fresh_database(postgres: bool) -> Iterator[str]:
    if not postgres:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            database.upgrade(url)
            yield url
        return

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(PG_ADMIN)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
    asyncio.run(admin(f'CREATE DATABASE "{PG_NAME}"'))
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{PG_NAME}"
    database.upgrade(url)
    try:
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))


class Timer:
    """Process CPU seconds spent in the grouping functions ``open_case`` calls."""

    def __init__(self) -> None:
        self.spent = 0.0
        sign, join = cases_handler.sign, cases_handler.join_incident

        def timed_sign(*args: Any, **kwargs: Any) -> Any:
            began = time.process_time()
            try:
                return sign(*args, **kwargs)
            finally:
                self.spent += time.process_time() - began

        async def timed_join(*args: Any, **kwargs: Any) -> Any:
            began = time.process_time()
            try:
                return await join(*args, **kwargs)
            finally:
                self.spent += time.process_time() - began

        cases_handler.sign = timed_sign  # type: ignore[assignment]
        cases_handler.join_incident = timed_join  # type: ignore[assignment]


TIMER = Timer()


@dataclass
class Filing:
    engine: Any
    sessions: Any
    taxonomy: Taxonomy
    nlu: Classifier
    count: int = 0

    async def read(self, text: str) -> Reading:
        return await read_complaint(text, nlu=self.nlu)

    async def open(
        self, text: str, reading: Reading, at: datetime, method: str | None, commit: bool = True
    ) -> tuple[Case, float]:
        """Open a case for ``text``, grouped by the ``old`` or the ``new`` method (or not at
        all); returns it and the process CPU seconds its grouping took."""
        self.count += 1
        address = f"c{self.count}"
        stored, _ = await SqlInboxWriter(self.engine).add(
            InboundMessage(Channel.WEBCHAT, f"b{self.count}", address, text, at, Language.ZH)
        )
        async with SqlUnitOfWork(self.sessions) as uow:
            message = await uow.inbox.get(stored.id or 0)
            citizen = await uow.citizens.get_or_create(
                ContactHandle(Channel.WEBCHAT, address), at=at, language=Language.ZH
            )
            message.citizen_id = citizen.id
            routing = Routing(0.4, SHANGHAI, incidents=POLICY if method == "new" else None)
            TIMER.spent = 0.0
            case = await open_case(
                message, reading, uow=uow, filing=Rules(self.taxonomy, routing), now=at
            )
            spent = TIMER.spent
            if method == "old":
                began = time.process_time()
                await old_join(case, uow, self.taxonomy, at)
                spent = time.process_time() - began
            if commit:
                await uow.commit()
        return case, spent


async def filing(url: str, nlu: Classifier, taxonomy: Taxonomy) -> Filing:
    engine = database.create_engine(url)
    sessions = database.session_factory(engine)
    async with SqlUnitOfWork(sessions) as uow:
        await uow.departments.sync(list(taxonomy.departments.values()))
        await uow.commit()
    return Filing(engine, sessions, taxonomy, nlu)


# --- 1. right -------------------------------------------------------------------------------


@dataclass
class Outcome:
    event: dict[str, int] = field(default_factory=dict)  # case number -> event id
    lead: dict[str, str] = field(default_factory=dict)  # merged case -> the case it joined
    suggested: list[tuple[str, str]] = field(default_factory=list)  # (case, lead)
    should: set[str] = field(default_factory=set)  # reports with an earlier one of their event


async def label_run(
    url: str, nlu: Classifier, taxonomy: Taxonomy, reports: list[tuple[str, int]], old: bool
) -> Outcome:
    files = await filing(url, nlu, taxonomy)
    outcome = Outcome()
    seen: set[int] = set()
    step = SPAN / len(reports)
    for i, (text, event) in enumerate(reports):
        method = "old" if old else "new"
        case, _ = await files.open(text, await files.read(text), START + step * i, method)
        outcome.event[case.number] = event
        if event in seen:
            outcome.should.add(case.number)
        seen.add(event)
        if case.merged_into is not None:
            outcome.lead[case.number] = case.merged_into
    async with SqlUnitOfWork(files.sessions) as uow:
        rows = await uow.session.execute(
            select(IncidentSuggestionRow.case_id, IncidentSuggestionRow.lead_id)
        )
        pairs = list(rows)
        numbers = await uow.cases.numbers_by_id({i for pair in pairs for i in pair})
    outcome.suggested = [(numbers[a], numbers[b]) for a, b in pairs]
    await files.engine.dispose()
    return outcome


def ratio(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "  -  "


def print_quality(name: str, o: Outcome, texts: dict[str, str], taxonomy: Taxonomy) -> None:
    right = [n for n, lead in o.lead.items() if o.event[n] == o.event[lead]]
    wrong = [n for n in o.lead if n not in right]
    suggested_right = [(n, lead) for n, lead in o.suggested if o.event[n] == o.event[lead]]
    found = set(right) | {n for n, _ in suggested_right}
    elsewhere = 0
    for number in wrong:
        a = report_of_text(texts[number], number, taxonomy)
        b = report_of_text(texts[o.lead[number]], o.lead[number], taxonomy)
        elsewhere += relation(a, b)[0] == 0
    print(
        f"{name:<10} merged {len(o.lead):>3}: precision {ratio(len(right), len(o.lead))}"
        f" recall {ratio(len(right), len(o.should))}"
        f" ({len(wrong)} wrong, {elsewhere} of them naming different places)"
    )
    if o.suggested or name == "new":
        print(
            f"{'':<10} suggested {len(o.suggested):>3}: precision"
            f" {ratio(len(suggested_right), len(o.suggested))}; merged or suggested: recall"
            f" {ratio(len(found & o.should), len(o.should))}"
        )


def report_of_text(text: str, number: str, taxonomy: Taxonomy) -> Any:
    case = Case(
        number=number,
        citizen_id=0,
        channel=Channel.WEBCHAT,
        reply_to="",
        summary=text,
        language=Language.ZH,
        created_at=START,
        accept_due_at=START,
        complete_due_at=START,
    )
    return report_of(case, taxonomy=taxonomy, policy=POLICY).signature


# --- 2. cheap -------------------------------------------------------------------------------


async def cost_run(
    url: str,
    nlu: Classifier,
    taxonomy: Taxonomy,
    open_cases: list[str],
    probes: list[str],
    postgres: bool,
) -> dict[str, list[float]]:
    files = await filing(url, nlu, taxonomy)
    step = SPAN / len(open_cases)
    for i, text in enumerate(open_cases):
        await files.open(text, await files.read(text), START + step * i, None)
    indexed = await index_unsigned(
        lambda: SqlUnitOfWork(files.sessions),
        taxonomy=taxonomy,
        policy=POLICY,
        now=START + SPAN,
    )
    assert indexed == len(open_cases), indexed
    async with SqlUnitOfWork(files.sessions) as uow:
        still_open = await uow.session.scalar(
            select(CaseRow.id).where(CaseRow.status.in_([str(s) for s in OPEN])).limit(1)
        )
    assert still_open is not None
    spent: dict[str, list[float]] = {"old": [], "new": [], "old_db": [], "new_db": []}
    at = START + SPAN + timedelta(minutes=1)
    for text in probes:
        reading = await files.read(text)
        for name in ("old", "new"):
            db_before = postgres_cpu() if postgres else 0.0
            _, cpu = await files.open(text, reading, at, name, commit=False)
            spent[name].append(cpu)
            if postgres:
                spent[f"{name}_db"].append(postgres_cpu() - db_before)
    await files.engine.dispose()
    return spent


def print_cost(spent: dict[str, list[float]], open_count: int, postgres: bool) -> None:
    for name in ("old", "new"):
        values = spent[name]
        line = (
            f"{name:<10} grouping CPU per report: mean {statistics.mean(values) * 1e3:6.2f} ms,"
            f" median {statistics.median(values) * 1e3:6.2f} ms"
        )
        if postgres:
            server = statistics.mean(spent[name + "_db"]) * 1e3
            line += f"; PostgreSQL server CPU (the whole open_case) {server:.2f} ms"
        print(line + f"  ({len(values)} reports, {open_count} open cases)")


def main() -> None:
    logging.disable(logging.WARNING)  # the case alerts of urgent reports: not figures
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--open", type=int, default=5000, help="open cases before the probes")
    parser.add_argument("--probes", type=int, default=300)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    reports = labelled(rng)
    taxonomy = load_taxonomy()
    nlu = LocalClassifier.train(training_data.load_examples(training_data.default_data_path()))
    events = len({event for _, event in reports})
    print(
        f"{len(reports)} labelled reports of {events} events over {SPAN.seconds // 3600} hours"
        f" ({'PostgreSQL' if args.postgres else 'SQLite'})"
    )
    outcomes = {}
    for name, old in (("old", True), ("new", False)):
        with fresh_database(args.postgres) as url:
            outcomes[name] = asyncio.run(label_run(url, nlu, taxonomy, reports, old))
    for name, outcome in outcomes.items():
        texts = dict(zip(outcome.event, (text for text, _ in reports), strict=True))
        print_quality(name, outcome, texts, taxonomy)
    probes = [text for text, _ in reports][: args.probes]
    with fresh_database(args.postgres) as url:
        spent = asyncio.run(
            cost_run(url, nlu, taxonomy, background(rng, args.open), probes, args.postgres)
        )
    print_cost(spent, args.open, args.postgres)


if __name__ == "__main__":
    main()
