"""The dashboard: the three rates per department, channel and day, backlog, CSV export."""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from civicline.gateway.console.charts import bar_chart, line_chart
from civicline.gateway.console.texts import translator
from civicline.gateway.console.web import PREFIX, Viewer, ViewerDep, render, services_of
from civicline.handlers.stats import Dashboard, Rates, dashboard, dashboard_csv_rows, day_label

router = APIRouter(prefix=PREFIX, include_in_schema=False)


async def _board(request: Request, who: Viewer) -> Dashboard:
    services = services_of(request)
    now = services.now()
    return await dashboard(
        user=who.user,
        uow=services.uow(),
        now=now,
        city_today=now.astimezone(services.settings.timezone).date(),
    )


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(request: Request, who: ViewerDep) -> Response:
    board = await _board(request, who)
    t = translator(who.lang)
    taxonomy = services_of(request).taxonomy
    series = [t("timely_acceptance"), t("completion"), t("satisfaction")]

    def department_name(code: str | None) -> str:
        if code is None:
            return t("triage_department")
        found = taxonomy.departments.get(code)
        if found is None:
            return code
        return found.name_en if who.lang == "en" else found.name_zh

    def rates(r: Rates) -> tuple[float | None, float | None, float | None]:
        return (r.timely_acceptance, r.completion, r.satisfaction)

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
            [day_label(r.key)[5:] for r in board.by_day],
            [
                (series[0], [r.timely_acceptance for r in board.by_day]),
                (series[1], [r.completion for r in board.by_day]),
                (series[2], [r.satisfaction for r in board.by_day]),
            ],
            title=t("by_day"),
        ),
    }
    return render(
        request,
        "console_dashboard.html",
        {"board": board, "charts": charts, "department_name": department_name},
        who=who,
    )


@router.get("/dashboard.csv")
async def dashboard_csv(request: Request, who: ViewerDep) -> Response:
    board = await _board(request, who)
    out = io.StringIO()
    csv.writer(out).writerows(dashboard_csv_rows(board))
    day = board.now.astimezone(services_of(request).settings.timezone).strftime("%Y%m%d")
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="civicline-rates-{day}.csv"'},
    )
