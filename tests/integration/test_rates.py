"""The rates against a hand-counted month (tests/support/rates_cases.py), on SQLite and PostgreSQL:
every count and rate, every group, days, weeks and months, who sees what, and the figures
/metrics shows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from civicline.domain.accounts import Role, StaffUser
from civicline.domain.errors import InvalidInput, NotAllowed
from civicline.handlers.rates import Period, RateLine, csv_rows, current_figures, rates_report
from civicline.storage.stats import COUNTS
from tests.support.factories import DEPARTMENTS, T0
from tests.support.places import SqlUnitOfWorkFactory
from tests.support.rates_cases import (
    BY_DEPARTMENT,
    CASES_BY_CATEGORY,
    CASES_BY_CHANNEL,
    CASES_BY_OUTCOME,
    CITY,
    HOUSING,
    NOW,
    RATES,
    TOTAL,
    TRANSPORT,
    store_november,
)

BOSS = StaffUser("boss", "x", Role.SUPERVISOR, T0, id=1)
ADMIN = StaffUser("root", "x", Role.ADMIN, T0, id=2)
LI = StaffUser("li", "x", Role.STAFF, T0, department=HOUSING, id=3)
OPERATOR = StaffUser("wang", "x", Role.OPERATOR, T0, id=4)
NOVEMBER = {"since": date(2026, 11, 1), "until": date(2026, 11, 30)}


@pytest.fixture
async def uow(uow_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    async with uow_factory() as u:
        await u.departments.sync(DEPARTMENTS)
        await u.commit()
    await store_november(uow_factory())
    return uow_factory


def _counts(line: RateLine) -> tuple[int, ...]:
    return tuple(line.count_values().values())


def _by(lines: list[RateLine], group: str) -> dict[str | None, RateLine]:
    found = {line.key: line for line in lines if line.group == group}
    assert len(found) == len([line for line in lines if line.group == group])
    return found


async def test_every_count_and_rate_of_the_month(uow: SqlUnitOfWorkFactory) -> None:
    report = await rates_report(user=BOSS, uow=uow(), now=NOW, city=CITY, **NOVEMBER)
    assert report.groups == ("total", "department", "category", "channel", "outcome")
    [total] = [line for line in report.lines if line.group == "total"]
    assert total.period == "2026-11"
    assert _counts(total) == TOTAL
    assert total.rates == pytest.approx(RATES)
    departments = _by(report.lines, "department")
    assert {k: _counts(v) for k, v in departments.items()} == BY_DEPARTMENT
    housing = departments[HOUSING].rates
    assert housing["timely_acceptance"] == pytest.approx(4 / 5)
    assert housing["completion"] == pytest.approx(3 / 4)
    assert housing["reply"] == pytest.approx(2 / 4)
    assert housing["satisfaction"] == pytest.approx(1 / 2)  # B's dissatisfied counts here
    assert housing["repeat"] == pytest.approx(1 / 5)
    triage = departments[None].rates
    assert triage["timely_acceptance"] == 0.0
    assert triage["completion"] is None and triage["satisfaction"] is None  # nothing due
    for group, expected in (
        ("channel", CASES_BY_CHANNEL),
        ("category", CASES_BY_CATEGORY),
        ("outcome", CASES_BY_OUTCOME),
    ):
        assert {k: v.counts.cases for k, v in _by(report.lines, group).items()} == expected
        # Every group adds up to the total, count by count.
        lines = _by(report.lines, group).values()
        assert tuple(sum(_counts(line)[i] for line in lines) for i in range(len(COUNTS))) == TOTAL
    assert _by(report.lines, "channel")["sms"].counts.merged == 1


async def test_days_weeks_and_the_whole_span(uow: SqlUnitOfWorkFactory) -> None:
    async def total(period: Period) -> dict[str, tuple[int, int]]:
        report = await rates_report(
            user=BOSS, uow=uow(), now=NOW, city=CITY, groups=["total"], period=period, **NOVEMBER
        )
        return {line.period: (line.counts.cases, line.counts.merged) for line in report.lines}

    days = await total("day")
    # K was filed at 00:30 on 1 November in the city (still 31 October in UTC); G at 04:00
    # on the 27th; a day with only a merged case is listed with its duplicate.
    assert days == {
        "2026-11-01": (1, 0), "2026-11-02": (1, 0), "2026-11-03": (1, 0),
        "2026-11-10": (1, 0), "2026-11-12": (0, 1), "2026-11-15": (1, 0),
        "2026-11-18": (1, 0), "2026-11-20": (1, 0), "2026-11-22": (1, 0),
        "2026-11-25": (1, 0), "2026-11-27": (1, 0),
    }  # fmt: skip
    assert await total("week") == {
        "2026-W44": (1, 0),  # Sunday 1 November
        "2026-W45": (2, 0),
        "2026-W46": (2, 1),
        "2026-W47": (3, 0),
        "2026-W48": (2, 0),
    }
    assert await total("month") == {"2026-11": (10, 1)}
    assert await total("all") == {"2026-11-01/2026-11-30": (10, 1)}
    # A week's counts are its days' counts summed, every one of them.
    report = await rates_report(
        user=BOSS, uow=uow(), now=NOW, city=CITY, groups=["department"], period="week",
        **NOVEMBER,
    )  # fmt: skip
    housing = [line for line in report.lines if line.key == HOUSING]
    assert [line.period for line in housing] == ["2026-W44", "2026-W45", "2026-W47"]
    summed = tuple(sum(_counts(line)[i] for line in housing) for i in range(len(COUNTS)))
    assert summed == BY_DEPARTMENT[HOUSING]


async def test_the_period_bounds_and_the_default_month(uow: SqlUnitOfWorkFactory) -> None:
    # October holds J, M's month is September: only J and O are October's.
    october = await rates_report(
        user=BOSS, uow=uow(), now=NOW, city=CITY, groups=["total"],
        since=date(2026, 10, 1), until=date(2026, 10, 31),
    )  # fmt: skip
    assert [line.counts.cases for line in october.lines] == [2]
    # By default: this month so far, in the city's time.
    default = await rates_report(user=BOSS, uow=uow(), now=NOW, city=CITY, groups=["total"])
    assert (default.since, default.until) == (date(2026, 11, 1), date(2026, 11, 27))
    assert _counts(default.lines[0]) == TOTAL
    one_day = await rates_report(
        user=BOSS, uow=uow(), now=NOW, city=CITY, groups=["total"],
        since=date(2026, 11, 27), until=date(2026, 11, 27),
    )  # fmt: skip
    assert [line.counts.cases for line in one_day.lines] == [1]  # G
    with pytest.raises(InvalidInput):
        await rates_report(
            user=BOSS, uow=uow(), now=NOW, city=CITY,
            since=date(2026, 11, 2), until=date(2026, 11, 1),
        )  # fmt: skip
    with pytest.raises(InvalidInput):
        await rates_report(
            user=BOSS, uow=uow(), now=NOW, city=CITY,
            since=date(2023, 1, 1), until=date(2026, 11, 1),
        )  # fmt: skip


async def test_a_later_look_settles_the_month(uow: SqlUnitOfWorkFactory) -> None:
    """Judged a month later, every deadline has passed: C, G and H are due and late."""
    later = NOW + timedelta(days=30)
    report = await rates_report(
        user=BOSS, uow=uow(), now=later, city=CITY, groups=["total"], **NOVEMBER
    )
    c = report.lines[0].counts
    assert (c.accept_due, c.accepted_in_time) == (10, 7)  # G joins, undecided
    assert (c.complete_due, c.completed_in_time) == (9, 5)  # C, G, H join, open
    assert (c.reply_due, c.replied_in_time) == (8, 4)  # G, H join, unanswered


async def test_who_sees_which_department(uow: SqlUnitOfWorkFactory) -> None:
    mine = await rates_report(user=LI, uow=uow(), now=NOW, city=CITY, **NOVEMBER)
    assert mine.department == HOUSING
    assert {line.key for line in mine.lines if line.group == "department"} == {HOUSING}
    [total] = [line for line in mine.lines if line.group == "total"]
    assert _counts(total) == BY_DEPARTMENT[HOUSING]
    also_mine = await rates_report(
        user=LI, uow=uow(), now=NOW, city=CITY, department=HOUSING, **NOVEMBER
    )
    assert also_mine.department == HOUSING
    with pytest.raises(NotAllowed):
        await rates_report(user=LI, uow=uow(), now=NOW, city=CITY, department=TRANSPORT)
    with pytest.raises(NotAllowed):
        await rates_report(user=OPERATOR, uow=uow(), now=NOW, city=CITY)
    clerk_without_department = StaffUser("zhou", "x", Role.STAFF, T0, id=5)
    with pytest.raises(NotAllowed):
        await rates_report(user=clerk_without_department, uow=uow(), now=NOW, city=CITY)
    theirs = await rates_report(
        user=ADMIN, uow=uow(), now=NOW, city=CITY, department=TRANSPORT, **NOVEMBER
    )
    [total] = [line for line in theirs.lines if line.group == "total"]
    assert _counts(total) == BY_DEPARTMENT[TRANSPORT]


async def test_csv_rows_have_one_shape(uow: SqlUnitOfWorkFactory) -> None:
    report = await rates_report(user=BOSS, uow=uow(), now=NOW, city=CITY, **NOVEMBER)
    rows = csv_rows(report.lines)
    header = rows[0]
    assert header[:4] == ["group", "key", "period", "cases"]
    assert header[-7:] == [
        "timely_acceptance_rate", "completion_rate", "reply_rate", "return_visit_rate",
        "unreachable_rate", "satisfaction_rate", "repeat_rate",
    ]  # fmt: skip
    assert all(len(row) == len(header) for row in rows)
    assert len(rows) == 1 + len(report.lines)
    total = dict(zip(header, rows[1], strict=True))
    assert total["group"] == "total" and total["key"] == "" and total["period"] == "2026-11"
    assert total["timely_acceptance_rate"] == "0.7778" and total["repeat_rate"] == "0.2000"
    triage = next(dict(zip(header, r, strict=True)) for r in rows if r[:2] == ["department", ""])
    assert triage["completion_rate"] == "" and triage["timely_acceptance_rate"] == "0.0000"


async def test_the_figures_for_metrics(uow: SqlUnitOfWorkFactory) -> None:
    figures = await current_figures(uow=uow(), now=NOW, city=CITY)
    assert figures.month == "2026-11"
    backlog = {b.key: (b.backlog, b.overdue) for b in figures.backlog}
    # C awaits a reply (not overdue); G and H wait in triage, neither past completion.
    assert backlog == {HOUSING: (1, 0), None: (2, 0)}
    assert figures.filed == CASES_BY_CHANNEL
    # Closed in November, whenever filed: A, B, D, I, L by their columns (K has none).
    assert figures.closed == {"webchat": 1, "hotline": 1, "sms": 1, "telegram": 1, "open311": 1}
    assert figures.city is not None and figures.city.rates == pytest.approx(RATES)
    assert {line.key for line in figures.departments} == {HOUSING, TRANSPORT, None}


async def test_the_dashboard_reads_the_same_counts(uow: SqlUnitOfWorkFactory) -> None:
    """The console's dashboard (handlers.stats) shares the SQL: its 30 days hold November
    from the 28th of October on, J and O included."""
    from civicline.handlers.stats import dashboard

    board = await dashboard(user=BOSS, uow=uow(), now=NOW, city_today=NOW.date())
    c = board.total.counts
    assert c.cases == 10 + 1  # O (30 October) falls in the 30 days; J does not
    by_department = {r.key: r.counts.cases for r in board.by_department}
    assert by_department == {HOUSING: 6, TRANSPORT: 3, None: 2}
