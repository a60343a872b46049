"""A hand-counted month of cases for the rates (tests/integration/test_rates.py and
tests/e2e/test_stats_api.py): November 2026 in the city's time, judged at NOW.

Every case says what it is for; the expected counts below are counted by hand from these
lines, not by running the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from civicline.domain.cases import Case, CaseEvent, CaseStatus, EventKind
from civicline.domain.citizens import ContactHandle
from civicline.domain.governance import Outcome, Satisfaction, VisitStatus
from civicline.domain.messages import Channel, Language
from civicline.storage.base import UnitOfWork

CITY = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # 12:00 in the city
H = timedelta(hours=1)
D = timedelta(days=1)
HOUSING, TRANSPORT = "housing_construction", "transport"
BUILDING, ROADS = "urban_rural_construction", "transport"
S = CaseStatus


def at(month: int, day: int, hour: int = 2, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def _case(
    seq: int,
    citizen: int,
    created: datetime,
    *,
    department: str | None,
    category: str | None,
    channel: Channel = Channel.WEBCHAT,
    status: CaseStatus = S.CLOSED,
    **fields: object,
) -> tuple[int, Case]:
    values: dict[str, object] = {
        "number": f"{created.astimezone(CITY):%y%m%d}-{seq:05d}",
        "citizen_id": 0,
        "channel": channel,
        "reply_to": f"addr-{citizen}",
        "summary": "路灯坏了",
        "language": Language.ZH,
        "created_at": created,
        "updated_at": created,
        "accept_due_at": created + 24 * H,
        "reply_due_at": created + 3 * D,
        "complete_due_at": created + 7 * D,
        "department": department,
        "category": category,
        "status": status,
    }
    values.update(fields)
    return citizen, Case(**values)  # type: ignore[arg-type]


def november() -> list[tuple[int, Case]]:
    """(citizen, case) pairs: the month's cases and the earlier ones repeats look back to."""
    a, b, c = at(11, 2), at(11, 3), at(11, 20)
    d, e, f = at(11, 10), at(11, 12), at(11, 15)
    g, h, i = at(11, 26, 20), at(11, 25), at(11, 22)
    k, l_ = at(10, 31, 16, 30), at(11, 18)  # k: 00:30 on 1 November in the city
    declined = CaseEvent(EventKind.TRANSITION, f + 2 * H, "staff:li", S.RECEIVED, S.REJECTED)
    legacy = [
        CaseEvent(EventKind.TRANSITION, k + H, "nlu", S.RECEIVED, S.ACCEPTED),
        CaseEvent(EventKind.TRANSITION, k + 2 * D, "staff:li", S.ANSWERED, S.CLOSED),
    ]
    cases = [
        # A: housing by web chat, everything in time; satisfied, solved.
        _case(1, 1, a, department=HOUSING, category=BUILDING, accepted_at=a + H,
              first_reply_at=a + 2 * D, closed_at=a + 5 * D, outcome=Outcome.SOLVED,
              visit_status=VisitStatus.ANSWERED, satisfaction=Satisfaction.SATISFIED,
              solved=True, rating=5),
        # B: housing by the hotline, everything late; a court matter; dissatisfied, unsolved.
        # Its citizen's earlier housing case (M) was 34 days before: not a repeat.
        _case(2, 2, b, department=HOUSING, category=BUILDING, channel=Channel.HOTLINE,
              accepted_at=b + 30 * H, first_reply_at=b + 4 * D, closed_at=b + 9 * D,
              outcome=Outcome.EXPLAINED, legal_matter=True, visit_status=VisitStatus.ANSWERED,
              satisfaction=Satisfaction.DISSATISFIED, solved=False, rating=1),
        # C: A's citizen again, same category 18 days later: a repeat. Open, not yet due to
        # complete; its first reply is overdue.
        _case(3, 1, c, department=HOUSING, category=BUILDING, status=S.IN_PROGRESS,
              accepted_at=c + 2 * H, complete_due_at=at(11, 30)),
        # D: transport by SMS, accepted exactly at its deadline (in time); the return visit
        # could not reach the citizen.
        _case(4, 3, d, department=TRANSPORT, category=ROADS, channel=Channel.SMS,
              accepted_at=d + 24 * H, first_reply_at=d + D, closed_at=d + 3 * D,
              outcome=Outcome.LAW_ENFORCED, visit_status=VisitStatus.UNREACHABLE),
        # E: D's citizen again two days later, merged into D: counts as merged only.
        _case(5, 3, e, department=TRANSPORT, category=ROADS, channel=Channel.SMS,
              status=S.MERGED, merged_into="261110-00004"),
        # F: declined at once (不予受理), two hours in: acceptance in time, nothing else due.
        # Its citizen's transport case J was 26 days before: a repeat.
        _case(6, 4, f, department=TRANSPORT, category=ROADS, channel=Channel.SMS,
              status=S.REJECTED, events=[declined]),
        # G: in triage, filed this morning: nothing due yet.
        _case(7, 5, g, department=None, category=None, status=S.RECEIVED),
        # H: in triage since the 25th: acceptance overdue.
        _case(8, 6, h, department=None, category=None, channel=Channel.VOICE,
              status=S.RECEIVED),
        # I: housing by Telegram, closed in time, the return visit still waiting.
        _case(9, 8, i, department=HOUSING, category=BUILDING, channel=Channel.TELEGRAM,
              accepted_at=i + H, first_reply_at=i + D, closed_at=i + 2 * D,
              outcome=Outcome.SOLVED, visit_status=VisitStatus.ASKED),
        # K: stored before the columns existed (history only, no reply deadline): accepted
        # and closed in time. Filed at 00:30 on 1 November, city time.
        _case(10, 9, k, department=HOUSING, category=BUILDING, channel=Channel.HOTLINE,
              reply_due_at=None, events=legacy),
        # L: transport over Open311, in time; basically satisfied.
        _case(11, 7, l_, department=TRANSPORT, category=ROADS, channel=Channel.OPEN311,
              accepted_at=l_ + H, first_reply_at=l_ + D, closed_at=l_ + 2 * D,
              outcome=Outcome.ASSISTED, visit_status=VisitStatus.ANSWERED,
              satisfaction=Satisfaction.BASIC, solved=True, rating=4),
        # Before November: J (F's repeat source), M (34 days before B), O (D's citizen,
        # another category: D is no repeat).
        _case(12, 4, at(10, 20), department=TRANSPORT, category=ROADS, accepted_at=at(10, 20)),
        _case(13, 2, at(9, 30), department=HOUSING, category=BUILDING, accepted_at=at(9, 30)),
        _case(14, 3, at(10, 30), department=HOUSING, category=BUILDING, accepted_at=at(10, 30)),
    ]  # fmt: skip
    for _, case in cases:
        events = case.events
        case.events = []
        for event in events:
            case.record(event)
    return cases


async def store_november(uow: UnitOfWork, held_by: Mapping[str, str] | None = None) -> None:
    """Store the cases, each citizen under their own web chat handle; ``held_by`` moves the
    cases of a department to another (a unit's)."""
    async with uow:
        citizens: dict[int, int] = {}
        for citizen, case in november():
            if citizen not in citizens:
                found = await uow.citizens.get_or_create(
                    ContactHandle(Channel.WEBCHAT, f"addr-{citizen}"),
                    at=case.created_at,
                    language=Language.ZH,
                )
                assert found.id is not None
                citizens[citizen] = found.id
            case.citizen_id = citizens[citizen]
            case.department = (held_by or {}).get(case.department or "", case.department)
            await uow.cases.add(case)
        await uow.commit()


# Hand-counted, in ReportRow's order: cases, merged, rejected, accept_due, accepted_in_time,
# complete_due, completed_in_time, closed, reply_due, replied_in_time, visits,
# visits_answered, visits_unreachable, satisfied, basic, dissatisfied, unsolved, repeats,
# legal_matters, rated, rated_satisfied.
TOTAL = (10, 1, 1, 9, 7, 6, 5, 6, 6, 4, 5, 3, 1, 1, 1, 1, 1, 2, 1, 3, 2)
BY_DEPARTMENT = {
    HOUSING: (5, 0, 0, 5, 4, 4, 3, 4, 4, 2, 3, 2, 0, 1, 0, 1, 1, 1, 1, 2, 1),
    TRANSPORT: (3, 1, 1, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1),
    None: (2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
}
# Cases (merged left out) per channel, category and outcome.
CASES_BY_CHANNEL = {"webchat": 3, "hotline": 2, "sms": 2, "telegram": 1, "voice": 1, "open311": 1}
CASES_BY_CATEGORY = {BUILDING: 5, ROADS: 3, None: 2}
CASES_BY_OUTCOME = {"solved": 2, "explained": 1, "law_enforced": 1, "assisted": 1, None: 5}
RATES = {
    "timely_acceptance": 7 / 9,
    "completion": 5 / 6,
    "reply": 4 / 6,
    "return_visit": 3 / 5,
    "unreachable": 1 / 5,
    "satisfaction": 2 / 3,
    "repeat": 2 / 10,
}
