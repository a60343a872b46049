"""The rates API: ``GET /api/v1/stats/rates`` as JSON or CSV (definitions: handlers.rates),
and the month's receptions: ``GET /api/v1/stats/visits?month=2026-11`` (handlers.visits).

Supervisors and admins read every department (or one, with ``department``); a department's
staff read their own department only; operators and others get 403. With ``unit``, the figures
of that unit's subtree and a row (group ``unit``) for its own departments and for each child: a
supervisor reads their own unit and those below it.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from civicline.gateway.bounds import Day
from civicline.gateway.deps import ServicesDep, UserDep
from civicline.gateway.downloads import csv_file
from civicline.handlers.rates import Period, RatesReport, csv_rows, rates_report
from civicline.handlers.unit_rates import units_of
from civicline.handlers.visits import month_stats
from civicline.storage.stats import REPORT_GROUPS, ReportGroup

router = APIRouter(prefix="/stats", tags=["stats"])


class RateRowOut(BaseModel):
    group: ReportGroup
    key: str | None = Field(
        description="department, category, channel, outcome or unit; null: none"
    )
    period: str = Field(description="2026-11-27, 2026-W48, 2026-11, or since/until for all")
    counts: dict[str, int]
    rates: dict[str, float | None] = Field(description="null when nothing is due")


class RatesOut(BaseModel):
    since: date
    until: date
    as_of: datetime = Field(description="deadlines are judged at this moment")
    period: Period
    groups: list[ReportGroup]
    department: str | None = Field(description="the one department counted, if any")
    unit: str | None = Field(
        default=None,
        description="the unit whose subtree is counted (its rows of group unit: the unit's own "
        "departments, then each child's subtree)",
    )
    repeat_window_days: int
    rows: list[RateRowOut]

    @classmethod
    def of(cls, report: RatesReport) -> RatesOut:
        return cls(
            since=report.since,
            until=report.until,
            as_of=report.as_of,
            period=report.period,
            groups=list(report.groups),
            department=report.department,
            unit=report.unit.unit.code if report.unit else None,
            repeat_window_days=report.repeat_window_days,
            rows=[
                RateRowOut(
                    group=line.group,
                    key=line.key,
                    period=line.period,
                    counts=line.count_values(),
                    rates=line.rates,
                )
                for line in report.lines
            ],
        )


@router.get(
    "/rates",
    response_model=RatesOut,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
)
async def rates(
    user: UserDep,
    services: ServicesDep,
    group: Annotated[list[ReportGroup] | None, Query(description="repeat; default all")] = None,
    period: Period = "month",
    since: Annotated[Day | None, Query(description="first filing day; default the 1st")] = None,
    until: Annotated[Day | None, Query(description="last filing day; default today")] = None,
    department: str | None = None,
    unit: Annotated[
        str | None,
        Query(max_length=32, description="a unit's subtree (341881), and a row per child"),
    ] = None,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
    exact: Annotated[
        bool, Query(description="count every case directly, not from the daily summary")
    ] = False,
) -> Response:
    """Timely acceptance, on-time completion, reply, return-visit, satisfaction and repeat
    rates of the cases filed from ``since`` to ``until`` (city dates), per group and period."""
    if department is not None:
        services.taxonomy.department(department)  # 404 for a department nobody knows
    report = await rates_report(
        user=user,
        uow=services.uow(),
        now=services.now(),
        city=services.settings.timezone,
        groups=group or REPORT_GROUPS,
        period=period,
        since=since,
        until=until,
        department=department,
        unit=unit,
        units=units_of(services.taxonomy),
        exact=exact,
    )
    if output == "json":
        return Response(RatesOut.of(report).model_dump_json(), media_type="application/json")
    name = f"civicline-rates-{report.since:%Y%m%d}-{report.until:%Y%m%d}.csv"
    return csv_file(csv_rows(report.lines), name)


class ReceptionGroupOut(BaseModel):
    leader: str | None
    unit: str
    receptions: int = Field(description="days a leader received at the venue")
    batches: int = Field(description="批次")
    people: int = Field(description="人次")
    collective: int
    repeat: int


class VisitStatsOut(BaseModel):
    month: str
    receptions: int
    batches: int
    people: int
    collective: int
    repeat: int
    first_time_resolved: float | None = Field(
        description="of first-time batches, the share answered on the spot; null: none"
    )
    sentence: dict[str, str] = Field(description="the month in a sentence, zh and en")
    groups: list[ReceptionGroupOut] = Field(description="by leader and unit")


@router.get(
    "/visits",
    response_model=VisitStatsOut,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
)
async def visit_stats(
    user: UserDep,
    services: ServicesDep,
    month: Annotated[
        str | None, Query(pattern=r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$", description="2026-11")
    ] = None,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response:
    """The month's receptions (the centre, supervisors, admins): by leader and unit, batches
    and people (批次/人次), collective and repeat visits, resolved at the first reception."""
    chosen = month or f"{services.today():%Y-%m}"
    stats = await month_stats(
        chosen, user=user, uow=services.uow(), city=services.settings.timezone
    )
    r = stats.report
    out = VisitStatsOut(
        **asdict(r),
        sentence={"zh": stats.sentence("zh"), "en": stats.sentence("en")},
        groups=[ReceptionGroupOut(**asdict(g)) for g in stats.groups],
    )
    if output == "json":
        return Response(out.model_dump_json(), media_type="application/json")
    header = ["leader", "unit", "receptions", "batches", "people", "collective", "repeat"]
    rows = [
        [g.leader or "", g.unit, g.receptions, g.batches, g.people, g.collective, g.repeat]
        for g in stats.groups
    ]
    total = ["", "", r.receptions, r.batches, r.people, r.collective, r.repeat]
    return csv_file([header, *rows, total], f"civicline-visits-{chosen}.csv")
