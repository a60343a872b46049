"""The dashboard: the three rates per unit, department, channel and day, backlog, CSV export;
a supervisor drills down their units (``?unit=341881``); this month's receptions of the
public (the centre, supervisors, admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from civicline.domain.errors import DomainError
from civicline.gateway.console.charts import bar_chart, line_chart
from civicline.gateway.console.errors import error_page
from civicline.gateway.console.texts import translator
from civicline.gateway.console.web import PREFIX, Viewer, ViewerDep, render, services_of
from civicline.gateway.downloads import csv_file
from civicline.handlers.rates import RateLine
from civicline.handlers.stats import Dashboard, dashboard, dashboard_csv_rows
from civicline.handlers.unit_rates import units_of
from civicline.handlers.visits import MonthStats, month_stats

router = APIRouter(prefix=PREFIX, include_in_schema=False)
SHOWN = ("timely_acceptance", "completion", "satisfaction")  # domain.rates' names, charted


async def _board(request: Request, who: Viewer, unit: str | None) -> Dashboard:
    services = services_of(request)
    now = services.now()
    return await dashboard(
        user=who.user,
        uow=services.uow(),
        now=now,
        city_today=now.astimezone(services.settings.timezone).date(),
        unit=unit,
        units=units_of(services.taxonomy),
    )


UnitQuery = Annotated[str | None, Query(max_length=32, pattern=r"^[0-9A-Za-z_-]+$")]


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(request: Request, who: ViewerDep, unit: UnitQuery = None) -> Response:
    try:
        board = await _board(request, who, unit)
    except DomainError as exc:
        return error_page(request, who, exc)
    t = translator(who.lang)
    taxonomy = services_of(request).taxonomy
    series = [t(name) for name in SHOWN]

    def department_name(code: str | None) -> str:
        if code is None:
            return t("triage_department")
        found = taxonomy.departments.get(code)
        if found is None:
            return code
        return found.name_en if who.lang == "en" else found.name_zh

    def unit_name(code: str | None) -> str:
        found = taxonomy.units.get(code) if taxonomy.units else None
        if found is None:
            return code or ""
        return found.name_en if who.lang == "en" else found.name_zh

    def rates(line: RateLine) -> tuple[float | None, ...]:
        return tuple(line.rates[name] for name in SHOWN)

    charts = {
        "department": bar_chart(
            [(department_name(r.key), rates(r)) for r in board.by_department],
            series,
            title=t("by_department"),
        ),
        "channel": bar_chart(
            [(t(f"channel_{r.key}"), rates(r)) for r in board.by_channel],
            series,
            title=t("by_channel"),
        ),
        "day": line_chart(
            [line.period[5:] for line in board.by_day],
            [
                (label, [line.rates[name] for line in board.by_day])
                for label, name in zip(series, SHOWN, strict=True)
            ],
            title=t("by_day"),
        ),
    }
    return render(
        request,
        "console_dashboard.html",
        {
            "board": board,
            "charts": charts,
            "department_name": department_name,
            "unit_name": unit_name,
            "receptions": await _receptions(request, who),
        },
        who=who,
    )


async def _receptions(request: Request, who: Viewer) -> MonthStats | None:
    """This month's receptions (``handlers.visits.month_stats``), for whom may read them."""
    if not (who.user.in_the_centre or who.user.oversees):
        return None
    services = services_of(request)
    month = f"{services.today():%Y-%m}"
    return await month_stats(
        month, user=who.user, uow=services.uow(), city=services.settings.timezone
    )


@router.get("/dashboard.csv")
async def dashboard_csv(request: Request, who: ViewerDep, unit: UnitQuery = None) -> Response:
    try:
        board = await _board(request, who, unit)
    except DomainError as exc:
        return error_page(request, who, exc)
    day = board.now.astimezone(services_of(request).settings.timezone)
    return csv_file(dashboard_csv_rows(board), f"civicline-rates-{day:%Y%m%d}.csv")
