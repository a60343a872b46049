"""``GET /metrics``: Prometheus text exposition of the backlog and this month's figures.

Gauges, computed from the database at each scrape (one short transaction: about a second at a
million cases, see README), never holding a case number, a citizen or their words:

* ``civicline_backlog_cases{department}``, ``civicline_overdue_cases{department}``: open
  cases awaiting a reply or triage, whenever filed, and those of them past their completion
  deadline (``department="triage"``: not placed yet);
* ``civicline_month_cases_filed{channel}``: cases filed this month (city time), duplicates
  left out; ``civicline_month_cases_closed{channel}``: cases closed this month, whenever filed;
* ``civicline_month_rate{rate}`` and ``civicline_month_department_rate{department,rate}``:
  this month's rates as fractions (handlers.rates); a rate with nothing due is left out.

Who may scrape: with ``CIVICLINE_METRICS_TOKEN`` set, whoever sends
``Authorization: Bearer <token>`` (401 otherwise); without it, loopback clients only (403
otherwise): a loopback peer sending no proxy header, or a loopback client as told by a proxy in
``CIVICLINE_TRUSTED_PROXIES`` (``gateway/proxies.py``), so a reverse proxy nobody configured,
even on the same host, does not publish the figures.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import SecretStr

from civicline.domain.rates import RATE_NAMES
from civicline.gateway.deps import ServicesDep
from civicline.gateway.proxies import Network, is_local
from civicline.handlers.rates import CurrentFigures, current_figures

router = APIRouter(include_in_schema=False)
TRIAGE = "triage"  # the label for cases without a department
# The classic text format generate_latest writes, which every Prometheus version reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Figures(Collector):
    """A collector over figures already read: prometheus_client's collectors are
    synchronous, the database is not."""

    def __init__(self, figures: CurrentFigures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        f = self.figures
        backlog = GaugeMetricFamily(
            "civicline_backlog_cases",
            "Open cases awaiting a reply or triage, whenever filed.",
            labels=["department"],
        )
        overdue = GaugeMetricFamily(
            "civicline_overdue_cases",
            "Open cases awaiting a reply or triage past their completion deadline.",
            labels=["department"],
        )
        for b in f.backlog:
            backlog.add_metric([b.key or TRIAGE], b.backlog)
            overdue.add_metric([b.key or TRIAGE], b.overdue)
        filed = GaugeMetricFamily(
            "civicline_month_cases_filed",
            f"Cases filed in {f.month} (city time), merged duplicates left out.",
            labels=["channel"],
        )
        for channel, n in sorted(f.filed.items()):
            filed.add_metric([channel], n)
        closed = GaugeMetricFamily(
            "civicline_month_cases_closed",
            f"Cases closed in {f.month}, whenever filed.",
            labels=["channel"],
        )
        for channel, n in sorted(f.closed.items()):
            closed.add_metric([channel], n)
        city = GaugeMetricFamily(
            "civicline_month_rate",
            f"The rates of the cases filed in {f.month}, as fractions (see README: the rates).",
            labels=["rate"],
        )
        if f.city is not None:
            for name in RATE_NAMES:
                value = f.city.rates[name]
                if value is not None:
                    city.add_metric([name], value)
        departments = GaugeMetricFamily(
            "civicline_month_department_rate",
            f"The rates of the cases filed in {f.month}, per department, as fractions.",
            labels=["department", "rate"],
        )
        for line in f.departments:
            for name in RATE_NAMES:
                value = line.rates[name]
                if value is not None:
                    departments.add_metric([line.key or TRIAGE, name], value)
        yield from (backlog, overdue, filed, closed, city, departments)


def _authorise(request: Request, token: SecretStr | None, proxies: tuple[Network, ...]) -> None:
    if token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected):
            raise HTTPException(401, "metrics need a bearer token", {"WWW-Authenticate": "Bearer"})
        return
    if not is_local(request, proxies):
        raise HTTPException(403, "metrics are served to loopback only: set CIVICLINE_METRICS_TOKEN")


@router.get("/metrics")
async def metrics(request: Request, services: ServicesDep) -> Response:
    settings = services.settings
    _authorise(request, settings.metrics_token, settings.proxies)
    figures = await current_figures(
        uow=services.uow(), now=services.now(), city=services.settings.timezone
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Figures(figures))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE)
