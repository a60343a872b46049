"""The rates from PostgreSQL's summary (case_rate_cells, the stored repeat flag: migrations
0017 and 0018) equal the direct count of every case, after a seeded, realistic series of case
changes: cases opened over two months, then accepted, declined (with the decision time on the
case, or only in the history as before 0018), answered, closed, visited, rated, merged,
forwarded, handed down to another unit's department, reopened and re-categorised, many of them
after their month. SQLite counts directly (there is no summary to compare), so only
PostgreSQL runs here."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import text

from civicline.domain.cases import Case, CaseEvent, CaseStatus, EventKind
from civicline.domain.citizens import ContactHandle
from civicline.domain.governance import Outcome, Satisfaction, VisitStatus
from civicline.domain.messages import Channel, Language
from civicline.domain.taxonomy import Department
from civicline.handlers.rates import city_midnight
from civicline.storage import database
from civicline.storage.stats import REPORT_GROUPS, ReportRow
from tests.support.factories import DEPARTMENTS
from tests.support.places import SqlUnitOfWorkFactory
from tests.support.rates_cases import CITY
from tests.support.services import fresh_postgres

S = CaseStatus
H, D = timedelta(hours=1), timedelta(days=1)
COUNTY, TOWNSHIP, OTHER = (
    "341881.housing_construction",
    "341881003.office",
    "341802.housing_construction",
)
UNIT_DEPARTMENTS = [
    Department(COUNTY, "宁国市住建局", "Ningguo Housing"),
    Department(TOWNSHIP, "河沥溪街道办事处", "Helixi Office"),
    Department(OTHER, "宣州区住建局", "Xuanzhou Housing"),
]
CODES = [d.code for d in [*DEPARTMENTS, *UNIT_DEPARTMENTS]]
CATEGORIES = ["roads", "noise", "wages", "lifts", None]
CHANNELS = [Channel.WEBCHAT, Channel.HOTLINE, Channel.SMS, Channel.TELEGRAM]
START = datetime(2026, 10, 20, 0, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)


@pytest.fixture
def db_url(db_url: str) -> str:
    if not db_url.startswith("postgresql"):
        pytest.skip("the summary is PostgreSQL's; SQLite counts every case directly")
    return db_url


def _ranges() -> Iterator[tuple[datetime, datetime]]:
    def month(first: date) -> tuple[datetime, datetime]:
        following = (first + timedelta(days=32)).replace(day=1)
        return city_midnight(first, CITY), city_midnight(following, CITY)

    yield month(date(2026, 11, 1))
    yield month(date(2026, 10, 1))
    yield city_midnight(date(2026, 10, 1), CITY), city_midnight(date(2026, 12, 31), CITY)
    # Ends that cut through filing days.
    for first, last in ((3, 21), (8, 9), (14, 28)):
        yield (
            datetime(2026, 11, first, 5, 30, tzinfo=UTC),
            datetime(2026, 11, last, 13, 17, tzinfo=UTC),
        )


async def _same_reports(uow: SqlUnitOfWorkFactory, now: datetime) -> int:
    """Compare every scope's two reports; how many group lines were compared."""
    compared = 0
    scopes: list[dict[str, object]] = [
        {},
        {"department": COUNTY},
        {"departments": {COUNTY, TOWNSHIP}},
    ]
    for since, until in _ranges():
        for period in ("month", "day", "all"):
            for scope in scopes:
                reports: list[list[ReportRow]] = []
                for exact in (True, False):
                    async with uow() as u:
                        reports.append(
                            await u.stats.report(
                                REPORT_GROUPS,
                                period=period,
                                since=since,
                                until=until,
                                now=now,
                                exact=exact,
                                **scope,  # type: ignore[arg-type]
                            )
                        )
                assert reports[1] == reports[0], (since, until, period, scope)
                compared += len(reports[0])
    return compared


async def _open_cases(uow: SqlUnitOfWorkFactory, rng: random.Random) -> list[int]:
    ids = []
    async with uow() as u:
        citizens = []
        for n in range(12):
            citizen = await u.citizens.get_or_create(
                ContactHandle(Channel.WEBCHAT, f"cells-{n}"), at=START, language=Language.ZH
            )
            assert citizen.id is not None
            citizens.append(citizen.id)
        for seq in range(1, 401):
            created = START + timedelta(minutes=rng.randrange(0, 47 * 24 * 60))
            case = Case(
                number=f"{created.astimezone(CITY):%y%m%d}-{seq:05d}",
                citizen_id=rng.choice(citizens),
                channel=rng.choice(CHANNELS),
                reply_to="addr",
                summary="路灯坏了",
                language=Language.ZH,
                created_at=created,
                updated_at=created,
                accept_due_at=created + 24 * H,
                complete_due_at=created + rng.choice([3, 7, 15]) * D,
                reply_due_at=rng.choice([created + 3 * D, None]),
                department=rng.choice([*CODES, None]),
                category=rng.choice(CATEGORIES),
            )
            if rng.random() < 0.3:  # closed on the spot: counted in the summary at once
                case.status, case.accepted_at = S.CLOSED, created + H
                case.first_reply_at = created + rng.choice([H, 4 * D])
                case.closed_at = created + rng.choice([2 * H, 9 * D])
                case.outcome = rng.choice(list(Outcome))
            elif rng.random() < 0.1:  # stored before migration 0007: the history says when
                case.status = S.CLOSED
                case.record(CaseEvent(EventKind.TRANSITION, created + H, "nlu", S.RECEIVED,
                                      S.ACCEPTED))  # fmt: skip
                case.record(CaseEvent(EventKind.TRANSITION, created + 4 * D, "staff:li",
                                      S.ANSWERED, S.CLOSED))  # fmt: skip
            await u.cases.add(case)
            assert case.id is not None
            ids.append(case.id)
        await u.commit()
    return ids


def _change(case: Case, rng: random.Random, others: list[Case]) -> None:
    """One thing that happens to a case, at a time after its filing (often after its month)."""
    later = case.created_at + timedelta(hours=rng.randrange(1, 40 * 24))
    step = rng.randrange(11)
    if step == 0:
        case.status, case.accepted_at = S.ACCEPTED, later
    elif step == 1:
        case.status = S.REJECTED
        case.record(CaseEvent(EventKind.TRANSITION, later, "staff:li", S.RECEIVED, S.REJECTED))
        if case.accepted_at is None and rng.random() < 0.7:
            case.declined_at = case.declined_at or later  # as Case.transition writes it
        # else declined before migration 0018: only the history says when
    elif step == 2:
        case.status, case.first_reply_at = S.ANSWERED, later
        case.accepted_at = case.accepted_at or case.created_at + 2 * H
    elif step == 3:
        case.status, case.closed_at = S.CLOSED, later
        case.accepted_at = case.accepted_at or case.created_at + rng.choice([H, 30 * H])
        case.first_reply_at = case.first_reply_at or rng.choice([later, None])
        case.outcome = rng.choice(list(Outcome))
        case.legal_matter = rng.random() < 0.2
    elif step == 4:
        case.visit_status = rng.choice(list(VisitStatus))
        if case.visit_status == VisitStatus.ANSWERED:
            case.satisfaction = rng.choice(list(Satisfaction))
            case.solved = rng.choice([True, False, None])
    elif step == 5:
        case.rating = rng.choice([None, 1, 3, 4, 5])
    elif step == 6:
        target = rng.choice(others)
        case.status, case.merged_into = S.MERGED, target.number
    elif step == 7:  # forwarded, or handed down to another unit's department
        case.department = rng.choice(CODES)
        case.status = rng.choice([S.FORWARDED, S.ASSIGNED, case.status])
    elif step == 8:  # reopened after a dissatisfied visit
        case.status, case.closed_at, case.second_review = S.REOPENED, None, True
    elif step == 9:  # re-categorised: the repeats of its citizen's later cases change
        case.category = rng.choice(CATEGORIES)
    else:
        case.outcome = rng.choice([*Outcome, None])
        case.channel = case.channel


async def _repeat_flags_agree(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        wrong = await u.session.scalar(
            text(
                "SELECT count(*) FROM cases c WHERE c.is_repeat IS DISTINCT FROM ("
                " c.category IS NOT NULL AND EXISTS (SELECT 1 FROM cases e"
                " WHERE e.citizen_id = c.citizen_id AND e.category = c.category"
                " AND e.created_at < c.created_at"
                " AND e.created_at >= c.created_at - make_interval(days => 30)))"
            )
        )
        repeats = await u.session.scalar(text("SELECT count(*) FROM cases WHERE is_repeat"))
    assert wrong == 0
    assert repeats


async def test_the_summary_equals_the_direct_count_through_a_series_of_changes(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    rng = random.Random(20)
    async with uow_factory() as u:
        await u.departments.sync([*DEPARTMENTS, *UNIT_DEPARTMENTS])
        await u.commit()
    ids = await _open_cases(uow_factory, rng)
    assert await _same_reports(uow_factory, NOW) > 100
    await _repeat_flags_agree(uow_factory)
    for _ in range(12):  # twelve transactions of changes
        async with uow_factory() as u:
            chosen = rng.sample(ids, 25)
            cases = [await u.cases.get(i) for i in chosen]
            for case in cases:
                for _ in range(rng.randrange(1, 4)):
                    _change(case, rng, cases)
                await u.cases.save(case)
            await u.commit()
    async with uow_factory() as u:
        cells = await u.session.scalar(text("SELECT count(*) FROM case_rate_cells"))
        settled = await u.session.scalar(
            text("SELECT count(*) FROM cases WHERE status IN ('closed', 'merged')")
        )
        declines = await u.session.scalar(
            text("SELECT sum(rejected) FROM case_rate_cells WHERE rejected > 0")
        )
    assert cells and settled and settled > 40  # the summary is in use, not empty
    assert declines  # declined cases with their decision time are in it too
    await _repeat_flags_agree(uow_factory)
    for now in (NOW, datetime(2026, 11, 15, 4, 0, tzinfo=UTC)):
        assert await _same_reports(uow_factory, now) > 100


async def test_a_deleted_case_leaves_the_summary(uow_factory: SqlUnitOfWorkFactory) -> None:
    rng = random.Random(7)
    async with uow_factory() as u:
        await u.departments.sync([*DEPARTMENTS, *UNIT_DEPARTMENTS])
        await u.commit()
    ids = await _open_cases(uow_factory, rng)
    async with uow_factory() as u:
        await u.session.execute(
            text("DELETE FROM case_events WHERE case_id = ANY(:ids)"), {"ids": ids[::3]}
        )
        await u.session.execute(text("DELETE FROM cases WHERE id = ANY(:ids)"), {"ids": ids[::3]})
        await u.commit()
    await _repeat_flags_agree(uow_factory)
    assert await _same_reports(uow_factory, NOW) > 50


def _downgrade(url: str, revision: str) -> None:
    command.downgrade(database.alembic_config(url), revision)


@pytest.fixture
def at_0017() -> Iterator[str]:
    """A PostgreSQL database of its own at 0017 (the summary before declines joined it)."""
    with fresh_postgres() as url:
        database.upgrade(url, "0017")
        yield url


async def test_migration_0018_moves_declines_into_the_cells_and_back(at_0017: str) -> None:
    """From 0017 with cases in it: the declines' times come from the history, the declined
    cases join their cells (the report unchanged), and a downgrade takes them out again."""
    now = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    filed = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    declined_at = filed + 3 * H
    engine = database.create_engine(at_0017)
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO citizens (language, created_at) VALUES ('zh', :at)"),
            {"at": filed},
        )
        for seq, status, accepted, closed in [
            (1, "rejected", None, None),  # declined at once: the history says when
            (2, "rejected", filed + H, None),  # accepted, then declined
            (3, "closed", filed + H, filed + 2 * D),
            (4, "merged", None, None),
            (5, "assigned", filed + H, None),
        ]:
            await conn.execute(
                text(
                    "INSERT INTO cases (number, citizen_id, channel, reply_to, summary,"
                    " language, category, status, created_at, updated_at, accept_due_at,"
                    " complete_due_at, accepted_at, closed_at, urgent)"
                    " VALUES (:n, 1, 'webchat', 'a', 's', 'zh', 'roads', :s, :f, :f,"
                    " :ad, :cd, :a, :c, false)"
                ),
                {"n": f"261103-0000{seq}", "s": status, "f": filed, "ad": filed + D,
                 "cd": filed + 5 * D, "a": accepted, "c": closed},
            )  # fmt: skip
        await conn.execute(
            text(
                "INSERT INTO case_events (case_id, kind, at, actor, from_status, to_status,"
                " data) VALUES (1, 'transition', :at, 'staff:li', 'received', 'rejected',"
                " '{}')"
            ),
            {"at": declined_at},
        )
    await engine.dispose()
    await asyncio.to_thread(database.upgrade, at_0017)

    engine = database.create_engine(at_0017)
    uow = SqlUnitOfWorkFactory(engine)
    try:
        async with uow() as u:
            assert (await u.cases.by_number("261103-00001")).declined_at == declined_at
            assert (await u.cases.by_number("261103-00002")).declined_at is None
            cells = await u.session.scalar(text("SELECT sum(rejected) FROM case_rate_cells"))
        assert cells == 2
        month = (datetime(2026, 10, 31, 16, tzinfo=UTC), datetime(2026, 11, 30, 16, tzinfo=UTC))
        reports = []
        for exact in (True, False):
            async with uow() as u:
                reports.append(
                    await u.stats.report(
                        REPORT_GROUPS,
                        period="month",
                        since=month[0],
                        until=month[1],
                        now=now,
                        exact=exact,
                    )
                )
        assert reports[0] == reports[1]
        [total] = [r for r in reports[1] if r.group == "total"]
        assert (total.cases, total.merged, total.rejected) == (4, 1, 2)
        assert (total.accept_due, total.accepted_in_time) == (4, 4)
    finally:
        await engine.dispose()

    await asyncio.to_thread(_downgrade, at_0017, "0017")
    engine = database.create_engine(at_0017)
    try:
        async with engine.begin() as conn:
            left = await conn.scalar(text("SELECT sum(rejected) FROM case_rate_cells"))
            closed = await conn.scalar(text("SELECT sum(closed) FROM case_rate_cells"))
            # 0017's trigger is back: a case closed now joins its cell as before.
            await conn.execute(
                text("UPDATE cases SET status = 'closed', closed_at = :c WHERE id = 5"),
                {"c": filed + 3 * D},
            )
            closed_after = await conn.scalar(text("SELECT sum(closed) FROM case_rate_cells"))
    finally:
        await engine.dispose()
    assert (left, closed, closed_after) == (0, 1, 2)
