"""The rates over HTTP and /metrics, on the hand-counted month (tests/support/rates_cases.py), with
the clock held at its NOW: who may read what, JSON and CSV shapes, the Prometheus text
parsed back and checked, and who may scrape it."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from civicline.domain.accounts import Role
from civicline.gateway.app import create_app
from civicline.gateway.bootstrap import Services
from civicline.gateway.users import create_user
from civicline.storage.stats import COUNTS
from tests.support.gateway import PASSWORD
from tests.support.places import Places
from tests.support.rates_cases import (
    BY_DEPARTMENT,
    CASES_BY_CHANNEL,
    HOUSING,
    NOW,
    RATES,
    TOTAL,
    TRANSPORT,
    store_november,
)

NOVEMBER = "since=2026-11-01&until=2026-11-30"
PEOPLE = [
    ("li", Role.STAFF, HOUSING),
    ("zhao", Role.STAFF, TRANSPORT),
    ("boss", Role.SUPERVISOR, None),
    ("root", Role.ADMIN, None),
    ("wang", Role.OPERATOR, None),
]


@asynccontextmanager
async def _client(
    services: Services, client: tuple[str, int] = ("127.0.0.1", 50000)
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services.settings, services)
    app.state.services = services  # in process: no lifespan runs
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://civicline") as http:
        yield http


async def _month(services: Services) -> None:
    services.clock = lambda: NOW
    for name, role, department in PEOPLE:
        await create_user(
            services.uow(), services.taxonomy, name, PASSWORD, role, department, now=NOW
        )
    await store_november(services.uow())


async def _sign_in(http: httpx.AsyncClient, name: str) -> dict[str, str]:
    answer = await http.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _counts(row: dict[str, object]) -> tuple[int, ...]:
    counts = row["counts"]
    assert isinstance(counts, dict)
    return tuple(counts[name] for name in COUNTS)


@pytest.fixture
async def http(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    await _month(services)
    async with _client(services) as client:
        yield client


async def test_a_supervisor_reads_every_department(http: httpx.AsyncClient) -> None:
    boss = await _sign_in(http, "boss")
    answer = await http.get(f"/api/v1/stats/rates?{NOVEMBER}", headers=boss)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["since"] == "2026-11-01" and body["until"] == "2026-11-30"
    assert body["as_of"].startswith("2026-11-27T04:00:00")
    assert (body["period"], body["department"], body["repeat_window_days"]) == ("month", None, 30)
    assert body["groups"] == ["total", "department", "category", "channel", "outcome"]
    [total] = [row for row in body["rows"] if row["group"] == "total"]
    assert total["key"] is None and total["period"] == "2026-11"
    assert _counts(total) == TOTAL
    assert total["rates"] == pytest.approx(RATES)
    departments = {r["key"]: _counts(r) for r in body["rows"] if r["group"] == "department"}
    assert departments == BY_DEPARTMENT
    triage = next(r for r in body["rows"] if r["group"] == "department" and r["key"] is None)
    assert triage["rates"]["completion"] is None

    by_channel = await http.get(
        f"/api/v1/stats/rates?{NOVEMBER}&group=channel&period=week", headers=boss
    )
    rows = by_channel.json()["rows"]
    assert {r["group"] for r in rows} == {"channel"}
    assert {r["period"] for r in rows} == {f"2026-W{w}" for w in range(44, 49)}
    cases: dict[str, int] = {}
    for r in rows:
        cases[r["key"]] = cases.get(r["key"], 0) + r["counts"]["cases"]
    assert cases == CASES_BY_CHANNEL

    one = await http.get(f"/api/v1/stats/rates?{NOVEMBER}&department=transport", headers=boss)
    [total] = [row for row in one.json()["rows"] if row["group"] == "total"]
    assert _counts(total) == BY_DEPARTMENT[TRANSPORT]


async def test_exact_counts_every_case_directly_with_the_same_answer(
    http: httpx.AsyncClient,
) -> None:
    boss = await _sign_in(http, "boss")
    summed = await http.get(f"/api/v1/stats/rates?{NOVEMBER}&period=day", headers=boss)
    exact = await http.get(f"/api/v1/stats/rates?{NOVEMBER}&period=day&exact=1", headers=boss)
    assert exact.status_code == 200, exact.text
    assert exact.json() == summed.json()
    total = [r for r in exact.json()["rows"] if r["group"] == "total"]
    assert tuple(sum(c) for c in zip(*map(_counts, total), strict=True)) == TOTAL


async def test_staff_read_their_own_department_only(http: httpx.AsyncClient) -> None:
    li = await _sign_in(http, "li")
    mine = await http.get(f"/api/v1/stats/rates?{NOVEMBER}&group=department", headers=li)
    assert mine.status_code == 200
    assert mine.json()["department"] == HOUSING
    assert [(r["key"], _counts(r)) for r in mine.json()["rows"]] == [
        (HOUSING, BY_DEPARTMENT[HOUSING])
    ]
    theirs = await http.get("/api/v1/stats/rates?department=transport", headers=li)
    assert theirs.status_code == 403
    theirs_csv = await http.get("/api/v1/stats/rates?department=transport&format=csv", headers=li)
    assert theirs_csv.status_code == 403
    operator = await _sign_in(http, "wang")
    assert (await http.get("/api/v1/stats/rates", headers=operator)).status_code == 403
    admin = await _sign_in(http, "root")
    assert (await http.get("/api/v1/stats/rates", headers=admin)).status_code == 200
    assert (await http.get("/api/v1/stats/rates")).status_code == 401
    bad_token = {"Authorization": "Bearer nonsense"}
    assert (await http.get("/api/v1/stats/rates", headers=bad_token)).status_code == 401


async def test_bad_questions_get_clear_answers(http: httpx.AsyncClient) -> None:
    boss = await _sign_in(http, "boss")
    for query, status in [
        ("department=nowhere", 404),
        ("since=2026-11-30&until=2026-11-01", 422),
        ("since=2020-01-01&until=2026-11-01", 422),
        ("group=district", 422),
        ("period=year", 422),
        ("format=xml", 422),
        ("since=yesterday", 422),
    ]:
        answer = await http.get(f"/api/v1/stats/rates?{query}", headers=boss)
        assert answer.status_code == status, (query, answer.text)


async def test_csv_export(http: httpx.AsyncClient) -> None:
    boss = await _sign_in(http, "boss")
    json_rows = (await http.get(f"/api/v1/stats/rates?{NOVEMBER}", headers=boss)).json()["rows"]
    answer = await http.get(f"/api/v1/stats/rates?{NOVEMBER}&format=csv", headers=boss)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        'filename="civicline-rates-20261101-20261130.csv"' in answer.headers["content-disposition"]
    )
    rows = list(csv.reader(io.StringIO(answer.text)))
    header = rows[0]
    assert header == [
        "group", "key", "period", *COUNTS,
        "timely_acceptance_rate", "completion_rate", "reply_rate", "return_visit_rate",
        "unreachable_rate", "satisfaction_rate", "repeat_rate",
    ]  # fmt: skip
    assert all(len(row) == len(header) for row in rows)
    assert len(rows) == 1 + len(json_rows)  # the same rows as the JSON, in the same order
    for row, line in zip(rows[1:], json_rows, strict=True):
        record = dict(zip(header, row, strict=True))
        assert (record["group"], record["key"] or None) == (line["group"], line["key"])
        assert tuple(int(record[name]) for name in COUNTS) == _counts(line)
    total = dict(zip(header, rows[1], strict=True))
    assert total["satisfaction_rate"] == "0.6667" and total["unreachable_rate"] == "0.2000"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_in_prometheus_text(http: httpx.AsyncClient) -> None:
    answer = await http.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE civicline_backlog_cases gauge" in answer.text
    samples = _samples(answer.text)

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("civicline_backlog_cases", department=HOUSING) == 1  # C
    assert value("civicline_backlog_cases", department="triage") == 2  # G, H
    assert value("civicline_overdue_cases", department=HOUSING) == 0
    for channel, n in CASES_BY_CHANNEL.items():
        assert value("civicline_month_cases_filed", channel=channel) == n
    assert value("civicline_month_cases_closed", channel="webchat") == 1
    assert value("civicline_month_cases_closed", channel="open311") == 1
    for name, expected in RATES.items():
        assert value("civicline_month_rate", rate=name) == pytest.approx(expected)
    assert value(
        "civicline_month_department_rate", department=HOUSING, rate="satisfaction"
    ) == pytest.approx(1 / 2)
    assert value(
        "civicline_month_department_rate", department=TRANSPORT, rate="repeat"
    ) == pytest.approx(1 / 3)
    # The triage "department" has nothing due to complete: that rate is left out.
    assert (
        "civicline_month_department_rate",
        (("department", "triage"), ("rate", "completion")),
    ) not in samples
    # No case number, address or complaint text in the exposition.
    assert "261" not in answer.text and "addr-" not in answer.text and "路灯" not in answer.text


async def test_metrics_off_loopback_or_through_a_proxy(services: Services) -> None:
    await _month(services)
    async with _client(services, client=("203.0.113.7", 40000)) as remote:
        assert (await remote.get("/metrics")).status_code == 403
    async with _client(services) as local:
        proxied = await local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
        assert proxied.status_code == 403


async def test_metrics_with_a_token(places: Places) -> None:
    async with places.services(metrics_token="scrape-me-please") as services:
        await _month(services)
        async with _client(services, client=("203.0.113.7", 40000)) as remote:
            assert (await remote.get("/metrics")).status_code == 401
            wrong = {"Authorization": "Bearer scrape-me-not"}
            assert (await remote.get("/metrics", headers=wrong)).status_code == 401
            right = {"Authorization": "Bearer scrape-me-please"}
            answer = await remote.get("/metrics", headers=right)
            assert answer.status_code == 200
            assert _samples(answer.text)[
                ("civicline_month_rate", (("rate", "completion"),))
            ] == pytest.approx(5 / 6)
