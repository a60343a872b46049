"""Supervision orders (督办), under ``/api/v1`` with the staff bearer token:

* ``POST /cases/{number}/supervision`` ``{instruction, due_working_days | due_at}``: issue
  (supervisor, admin); ``GET /cases/{number}/supervision``: the case's orders
  (``api/cases/supervision.py``).
* ``POST /supervision/{id}/response`` ``{response}``: the case's department answers.
* ``POST /supervision/{id}/close`` ``{accepted, note, due_working_days | due_at}``: accept,
  or send back with a note (and optionally a new deadline).
* ``GET /supervision?status=open|answered|closed|overdue&department=``: orders by deadline.
* ``GET /supervision/report?since=&until=&format=json|csv``: per department.

Leader ownership (包案), the dossier and the backlog (积案): ``api/cases/ownership.py``,
``api/cases/dossier.py``, ``api/backlog.py``.

Department staff see their own department's orders and report row; supervisors all.
Phone numbers and other contact details are masked for roles that may not see them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, Field

from civicline.domain.accounts import StaffUser
from civicline.domain.bounds import day_problem, moment_problem
from civicline.domain.supervision import (
    MAX_DUE_WORKING_DAYS,
    MAX_TEXT,
    SupervisionCounts,
    SupervisionOrder,
)
from civicline.gateway.bootstrap import Services
from civicline.gateway.bounds import Flag, Moment, Offset, RowId, Whole
from civicline.gateway.deps import ServicesDep, UserDep, known_department
from civicline.gateway.downloads import csv_file
from civicline.handlers import supervision
from civicline.handlers.access import redact
from civicline.storage.supervision import OrderFilter

router = APIRouter(tags=["supervision"])


class DeadlineIn(BaseModel):
    due_working_days: Whole | None = Field(default=None, ge=1, le=MAX_DUE_WORKING_DAYS)
    due_at: Moment | None = None

    def deadline(self) -> supervision.Deadline | None:
        if self.due_working_days is None and self.due_at is None:
            return None
        return supervision.Deadline(self.due_working_days, self.due_at)


class IssueIn(DeadlineIn):
    instruction: str = Field(min_length=1, max_length=MAX_TEXT)


class ResponseIn(BaseModel):
    response: str = Field(min_length=1, max_length=MAX_TEXT)


class CloseIn(DeadlineIn):
    accepted: Flag
    note: str | None = Field(default=None, max_length=MAX_TEXT)


class OrderOut(BaseModel):
    id: int
    case_number: str
    department: str | None
    status: str
    overdue: bool
    issued_by: str
    issued_at: datetime
    due_at: datetime
    instruction: str
    response: str | None
    responded_by: str | None
    responded_at: datetime | None
    reminders: int
    reminded_at: datetime | None

    @classmethod
    def of(cls, order: SupervisionOrder, user: StaffUser, now: datetime) -> OrderOut:
        assert order.id is not None and order.case_number is not None
        return cls(
            id=order.id,
            case_number=order.case_number,
            department=order.department,
            status=order.status,
            overdue=order.overdue(now),
            issued_by=order.issued_by,
            issued_at=order.issued_at,
            due_at=order.due_at,
            instruction=redact(order.instruction, user),
            response=None if order.response is None else redact(order.response, user),
            responded_by=order.responded_by,
            responded_at=order.responded_at,
            reminders=order.reminders,
            reminded_at=order.reminded_at,
        )


class ReportRow(BaseModel):
    department: str | None
    department_name: str
    issued: int
    answered_on_time: int
    answered_late: int
    still_open: int
    overdue: int


class ReportOut(BaseModel):
    since: datetime | None
    until: datetime | None
    generated_at: datetime
    departments: list[ReportRow]
    total: ReportRow


def clock(services: Services) -> supervision.Clock:
    return supervision.Clock(services.now(), services.calendar, services.settings.timezone)


@router.post("/supervision/{order_id}/response", response_model=OrderOut)
async def respond(
    order_id: RowId, body: ResponseIn, user: UserDep, services: ServicesDep
) -> OrderOut:
    """The department's written response (its own staff only)."""
    order = await supervision.respond(
        order_id, body.response, user=user, uow=services.uow(), clock=clock(services)
    )
    return OrderOut.of(order, user, services.now())


@router.post("/supervision/{order_id}/close", response_model=OrderOut)
async def close_order(
    order_id: RowId, body: CloseIn, user: UserDep, services: ServicesDep
) -> OrderOut:
    """Accept the response (closed), or send it back with a note (open again)."""
    order = await supervision.close(
        order_id,
        accepted=body.accepted,
        note=body.note,
        new_deadline=body.deadline(),
        user=user,
        uow=services.uow(),
        clock=clock(services),
    )
    return OrderOut.of(order, user, services.now())


@router.get("/supervision", response_model=list[OrderOut])
async def list_orders(
    user: UserDep,
    services: ServicesDep,
    status: OrderFilter | None = None,
    department: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> list[OrderOut]:
    """Orders by deadline, earliest first; ``overdue``: open and past the deadline."""
    known_department(services, department)
    now = services.now()
    orders = await supervision.listing(
        status=status,
        department=department,
        user=user,
        uow=services.uow(),
        now=now,
        limit=limit,
        offset=offset,
    )
    return [OrderOut.of(o, user, now) for o in orders]


@router.get(
    "/supervision/report",
    response_model=ReportOut,
    responses={200: {"content": {"text/csv": {}}}},
)
async def order_report(
    user: UserDep,
    services: ServicesDep,
    since: str | None = None,
    until: str | None = None,
    format: Literal["json", "csv"] = "json",
) -> ReportOut | Response:
    """Per department, the orders issued in [since, until): issued, answered on time,
    answered late, still open and (of those) overdue now. ``since``/``until`` are dates
    (city time; ``until`` counts whole) or times with a zone."""
    tz = services.settings.timezone
    start = _moment(since, "since", tz, end=False)
    end = _moment(until, "until", tz, end=True)
    now = services.now()
    rows = await supervision.report(since=start, until=end, user=user, uow=services.uow(), now=now)
    out = ReportOut(
        since=start,
        until=end,
        generated_at=now,
        departments=[_row(services, r) for r in rows],
        total=_total(rows),
    )
    if format == "json":
        return out
    cells = [[_cell(v) for v in row.model_dump().values()] for row in [*out.departments, out.total]]
    name = f"civicline-supervision-{now.astimezone(tz):%Y%m%d}.csv"
    return csv_file([list(ReportRow.model_fields), *cells], name)


def _moment(value: str | None, name: str, tz: object, *, end: bool) -> datetime | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            problem = day_problem(day)
            if problem is not None:
                raise HTTPException(422, f"{name}: {problem}")
            day += timedelta(days=1) if end else timedelta(0)
            return datetime.combine(day, time.min, tzinfo=tz)  # type: ignore[arg-type]
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"{name}: a date (2026-11-27) or a time with a zone") from None
    if moment.tzinfo is None:
        raise HTTPException(422, f"{name}: a time needs its zone (e.g. +08:00)")
    problem = moment_problem(moment)
    if problem is not None:
        raise HTTPException(422, f"{name}: {problem}")
    return moment


def _row(services: Services, counts: SupervisionCounts) -> ReportRow:
    code = counts.department
    found = services.taxonomy.departments.get(code) if code else None
    return ReportRow(
        department=code,
        department_name=found.name_zh if found else (code or "待分拨"),
        issued=counts.issued,
        answered_on_time=counts.answered_on_time,
        answered_late=counts.answered_late,
        still_open=counts.still_open,
        overdue=counts.overdue,
    )


def _total(rows: list[SupervisionCounts]) -> ReportRow:
    return ReportRow(
        department=None,
        department_name="合计",
        issued=sum(r.issued for r in rows),
        answered_on_time=sum(r.answered_on_time for r in rows),
        answered_late=sum(r.answered_late for r in rows),
        still_open=sum(r.still_open for r in rows),
        overdue=sum(r.overdue for r in rows),
    )


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
