"""The published rates: ``/board/rates?month=2026-11`` shows each unit's timely-acceptance,
completion, satisfaction and reply rates for the cases filed that month, as CSS bars beside
the figures (no script, no chart library), and the month's most frequent matters;
``/board/rates.csv?month=2026-11`` is the same table as CSV.

The rates are ``domain.rates.rates_of`` over the dashboard's own counts (``storage.stats``):
one definition of each rate in the code base. A rate with nothing due is shown as "—".
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from civicline.domain.bounds import day_problem
from civicline.domain.errors import InvalidInput
from civicline.domain.rates import rate_cell, rates_of
from civicline.gateway.pages.board import (
    common_context,
    error_page,
    lang_of,
    max_age,
    render,
    services_of,
)
from civicline.gateway.pages.board_cache import cache_key, page_cache, send
from civicline.handlers import board

router = APIRouter(include_in_schema=False)

SHOWN = ("timely_acceptance", "completion", "satisfaction", "reply")
RATE_NAMES = {
    "zh": {
        "timely_acceptance": "及时受理率",
        "completion": "按期办结率",
        "satisfaction": "满意率",
        "reply": "按时答复率",
    },
    "en": {
        "timely_acceptance": "Timely acceptance",
        "completion": "Completed on time",
        "satisfaction": "Satisfaction",
        "reply": "Answered on time",
    },
}
MONTHS_LISTED = 12


def _month(request: Request) -> date:
    """The month asked for (``YYYY-MM``), by default this month in the city."""
    services = services_of(request)
    raw = request.query_params.get("month", "").strip()
    if not raw:
        return services.now().astimezone(services.settings.timezone).date().replace(day=1)
    try:
        year, month = raw.split("-")
        if len(year) != 4 or len(month) != 2 or not (year + month).isascii():
            raise ValueError(raw)
        first = date(int(year), int(month), 1)
    except ValueError:
        raise InvalidInput("month: YYYY-MM, e.g. 2026-11") from None
    if problem := day_problem(first):
        raise InvalidInput(f"month {problem}")
    return first


def _recent(today: date) -> list[str]:
    months, year, month = [], today.year, today.month
    for _ in range(MONTHS_LISTED):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


async def _figures(request: Request) -> board.PublicRates:
    services = services_of(request)
    return await board.public_rates(
        _month(request), uow=services.uow(), now=services.now(), city=services.settings.timezone
    )


@router.get("/board/rates")
async def rates_page(request: Request) -> Response:
    try:
        _month(request)
    except InvalidInput as exc:
        return error_page(request, 400, str(exc))
    cache = page_cache(request)
    key = cache_key(request.url.path, request.query_params)
    cached = cache.get(key)
    if cached is None:
        figures = await _figures(request)
        lang = lang_of(request)
        services = services_of(request)
        today = services.now().astimezone(services.settings.timezone).date()
        units: list[dict[str, Any]] = [
            {"key": row.key, "cases": row.cases, "rates": rates_of(row)}
            for row in figures.departments
        ]
        most = max((m.cases for m in figures.matters), default=0)
        context = common_context(request, lang) | {
            "figures": figures,
            "units": units,
            "shown": SHOWN,
            "rate_names": RATE_NAMES[lang],
            "months": _recent(today),
            "most": most,
            "subcategories": {
                s.code: (s.name_zh if lang == "zh" else s.name_en)
                for subs in services.taxonomy.subcategories.values()
                for s in subs
            },
        }
        cached = cache.put(key, render("board_rates.html", context), "text/html; charset=utf-8")
    return send(request, cached, max_age=max_age(request))


@router.get("/board/rates.csv")
async def rates_csv(request: Request) -> Response:
    """One row per unit: its cases filed in the month and its four rates (4 places)."""
    try:
        figures = await _figures(request)
    except InvalidInput as exc:
        return error_page(request, 400, str(exc))
    names = {d.code: d.name_zh for d in services_of(request).taxonomy.departments.values()}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["month", "unit", "unit_name", "cases", *(f"{n}_rate" for n in SHOWN)])
    for row in figures.departments:
        rates = rates_of(row)
        key = row.key or ""
        writer.writerow(
            [
                figures.month,
                key,
                names.get(key, key),
                row.cases,
                *(rate_cell(rates[n]) for n in SHOWN),
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="rates-{figures.month}.csv"',
            "Cache-Control": f"public, max-age={max_age(request)}",
        },
    )
