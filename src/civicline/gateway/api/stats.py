"""The rates API: ``GET /api/v1/stats/rates`` as JSON or CSV (definitions: handlers.rates).

Supervisors and admins read every department (or one, with ``department``); a department's
staff read their own department only; operators and others get 403. With ``unit``, the figures
of that unit's subtree and a row (group ``unit``) for its own departments and for each child: a
supervisor reads their own unit and those below it.
"""

from __future__ import annotations

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
    )
    if output == "json":
        return Response(RatesOut.of(report).model_dump_json(), media_type="application/json")
    name = f"civicline-rates-{report.since:%Y%m%d}-{report.until:%Y%m%d}.csv"
    return csv_file(csv_rows(report.lines), name)
