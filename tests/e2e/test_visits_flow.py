"""Visits end to end (issue 15), on SQLite and PostgreSQL: a reception day booked on the web
and by SMS, the reminder the day before, the batch registered at the slot opening one case
with three reporters and the leader on duty from the rota, the month's statistics, a second
visit by the same ID number marked repeat; bad bookings refused with nothing lost; a Telegram
chat booking, reminded and cancelling; department staff reading the register masked."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from civicline.gateway.worker import send_reminders
from tests.e2e import test_telegram_flow as telegram
from tests.e2e.test_sms_flow import OUR_NUMBER, Sms
from tests.e2e.test_telegram_flow import Tg, as_chat, payload
from tests.fakes.twilio_server import running_fake_twilio
from tests.support.console import console, csrf_of
from tests.support.gateway import Gateway, serving
from tests.support.places import Places
from tests.support.ports import free_port

tg = telegram.tg  # a chat over the fake Bot API, as the Telegram tests drive it
CITY = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 12, 7, 10, 0, tzinfo=CITY)
TUESDAY = date(2026, 12, 8)
WEB_PHONE, SMS_PHONE = "+8613900000001", "+8613912340002"
IDS = ("341800199003070017", "341881198501010010", "341800197005120031")
NUMBER = re.compile(r"预约号 ([0-9A-Z]{8})")


@pytest.fixture
async def sms(places: Places) -> AsyncIterator[Sms]:
    async with running_fake_twilio() as fake:
        port = free_port()
        async with (
            places.services(
                public_base_url=f"http://127.0.0.1:{port}",
                twilio_account_sid=fake.account_sid,
                twilio_auth_token=fake.auth_token,
                twilio_from_number=OUR_NUMBER,
                twilio_api_base_url=fake.url,
            ) as services,
            serving(services, port) as gateway,
            httpx.AsyncClient(base_url=gateway.url, timeout=10) as http,
        ):
            services.clock = lambda: MONDAY
            yield Sms(gateway, fake, http)


def _visitor(n: int, phone: str | None = None) -> dict[str, str | None]:
    return {"name": f"来访人{n}", "id_number": IDS[n], "phone": phone or f"+86139000001{n:02d}"}


async def test_booked_reminded_received_counted(sms: Sms) -> None:
    services = sms.gateway.services
    web = await sms.client.post(
        "/visits/book",
        data={
            "unit": "341800",
            "day": TUESDAY.isoformat(),
            "brief": "拆迁补偿",
            "phone": WEB_PHONE,
        },
    )
    assert web.status_code == 201, web.text
    [web_confirmation] = await sms.sent_to(WEB_PHONE, 1)
    web_number = NUMBER.search(web_confirmation.body).group(1)  # type: ignore[union-attr]
    assert web_number in web.text

    await sms.text(f"预约 341800 {TUESDAY} 工资拖欠", sender=SMS_PHONE)
    [sms_confirmation] = await sms.sent_to(SMS_PHONE, 1)
    assert NUMBER.search(sms_confirmation.body), sms_confirmation.body

    # The day before, from 09:00: one reminder each, on the channel of booking.
    await send_reminders(services)
    await send_reminders(services)
    _, reminder = await sms.sent_to(WEB_PHONE, 2)
    _, sms_reminder = await sms.sent_to(SMS_PHONE, 2)
    assert "提醒" in reminder.body and web_number in reminder.body and "提醒" in sms_reminder.body
    assert len([m for m in sms.fake.messages if m.to == WEB_PHONE]) == 2

    # Tuesday: the booker comes with two more people.
    services.clock = lambda: datetime(2026, 12, 8, 9, 30, tzinfo=CITY)
    boss = await sms.gateway.staff("boss")
    batch = {
        "register_id": "desk-1",
        "unit": "341800",
        "matter": "小区拆迁补偿款一直没有发放，三户一起来反映，要求尽快兑付",
        "outcome": "accepted",
        "visitors": [_visitor(0, WEB_PHONE), _visitor(1), _visitor(2)],
        "staff": ["住建局 王科长"],
        "counsel": "律师 陈明",
        "appointment": web_number,
    }
    registered = await boss.post("/api/v1/visits", json=batch)
    assert registered.status_code == 201, registered.text
    visit = registered.json()
    on_duty = (await services.reception.rota(TUESDAY, TUESDAY)).leader_on("341800", TUESDAY)
    assert on_duty and visit["leader"] == on_duty
    assert (visit["batch_people"], visit["repeat"], visit["collective"]) == (3, False, False)
    [number] = visit["case_numbers"]
    case = (await boss.get(f"/api/v1/cases/{number}")).json()
    assert case["channel"] == "visit" and case["reporters"] == 3
    again = await boss.post("/api/v1/visits", json=batch)
    assert again.status_code == 200 and again.json()["case_numbers"] == [number]
    booked = (
        await boss.get("/api/v1/visits/appointments", params={"day": TUESDAY.isoformat()})
    ).json()
    assert {a["number"]: a["status"] for a in booked}[web_number] == "attended"

    stats = (await boss.get("/api/v1/stats/visits", params={"month": "2026-12"})).json()
    assert (stats["receptions"], stats["batches"], stats["people"]) == (1, 1, 3)
    assert stats["groups"][0]["leader"] == on_duty
    assert "1 batches, 3 people" in stats["sentence"]["en"]
    csv = await boss.get("/api/v1/stats/visits", params={"month": "2026-12", "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv") and on_duty in csv.text
    dashboard = (await console(sms.gateway, "boss")).get("/console/dashboard")
    assert "1 批 3 人次" in (await dashboard).text

    # A week later the first visitor comes back alone, about the same case: a repeat visit.
    services.clock = lambda: datetime(2026, 12, 15, 9, 30, tzinfo=CITY)
    second = {
        **batch,
        "register_id": "desk-2",
        "visitors": [_visitor(0, "+8613900000099")],
        "case_numbers": [number],
        "outcome": "answered",
        "appointment": None,
    }
    repeat = (await boss.post("/api/v1/visits", json=second)).json()
    assert repeat["repeat"] and repeat["case_numbers"] == [number]
    history = (await boss.get(f"/api/v1/cases/{number}")).json()
    assert history["reporters"] == 3  # the same people, not new reporters

    # Department staff read the register without ID numbers or phones.
    li = await sms.gateway.staff("li")
    seen = (await li.get(f"/api/v1/visits/{visit['id']}")).json()
    assert [p["id_number"] for p in seen["visitors"]] == [i[:2] + "*" * 14 + i[-2:] for i in IDS]
    assert {p["phone"] for p in seen["visitors"]} == {"•••"}
    assert (await li.post("/api/v1/visits", json=batch)).status_code == 403


async def test_bad_bookings_are_refused_and_nothing_is_lost(sms: Sms) -> None:
    boss = await sms.gateway.staff("boss")

    def call_in(phone: str, **changes: str) -> dict[str, str]:
        return {"unit": "341881001", "day": "2026-12-14", "brief": "约访", "phone": phone} | changes

    for n in range(8):  # the township's capacity on its Monday
        taken = await boss.post("/api/v1/visits/appointments", json=call_in(f"+861390000020{n}"))
        assert taken.status_code == 201, taken.text
    full = await boss.post("/api/v1/visits/appointments", json=call_in("+8613900000300"))
    assert full.status_code == 409 and "no appointment left" in full.json()["detail"]
    double = await boss.post("/api/v1/visits/appointments", json=call_in("+8613900000201"))
    assert double.status_code == 409 and "already booked" in double.json()["detail"]
    past = await boss.post(
        "/api/v1/visits/appointments", json=call_in("+8613900000300", day="2026-12-01")
    )
    assert past.status_code == 422 and "past" in past.json()["detail"]
    unknown = await boss.post(
        "/api/v1/visits/appointments", json=call_in("+8613900000300", unit="999999")
    )
    assert unknown.status_code == 422 and "unknown unit" in unknown.json()["detail"]
    day_off = await boss.post(
        "/api/v1/visits/appointments", json=call_in("+8613900000300", day="2026-12-15")
    )
    assert day_off.status_code == 422 and "receives no one" in day_off.json()["detail"]
    # The rota over the API: a supervisor names another leader; a holiday and a clerk refused.
    named = await boss.put("/api/v1/visits/rota/341800/2026-12-08", json={"leader": "副市长 赵明"})
    assert named.status_code == 200 and named.json()["leader"] == "副市长 赵明"
    rota = (await boss.get("/api/v1/visits/rota", params={"start": "2026-12-08", "days": 1})).json()
    assert [(r["unit"], r["leader"]) for r in rota if r["unit"] == "341800"] == [
        ("341800", "副市长 赵明")
    ]
    holiday = await boss.put("/api/v1/visits/rota/341800/2027-01-01", json={"leader": "甲"})
    assert holiday.status_code == 422
    li = await sms.gateway.staff("li")
    assert (
        await li.put("/api/v1/visits/rota/341800/2026-12-09", json={"leader": "甲"})
    ).status_code == 403
    listed = (await boss.get("/api/v1/visits/appointments", params={"day": "2026-12-14"})).json()
    assert len(listed) == 8 and {a["status"] for a in listed} == {"booked"}

    # On the public page the form comes back as typed, with what is wrong.
    form = {"unit": "341881001", "day": "2026-12-14", "brief": "宅基地纠纷", "phone": "13900000300"}
    again = await sms.client.post("/visits/book", data=form)
    assert again.status_code == 409 and "宅基地纠纷" in again.text and "预约已满" in again.text
    past_day = await sms.client.post(
        "/visits/book", data=form | {"unit": "341800", "day": "2026-12-01"}
    )
    assert past_day.status_code == 400 and "宅基地纠纷" in past_day.text

    # By SMS: what is wrong, in words; a cancelled place is free again.
    await sms.text("预约 341881001 2026-12-14 宅基地纠纷", sender="+8613900000300")
    [answer] = await sms.sent_to("+8613900000300", 1)
    assert "预约已满" in answer.body
    [confirmation] = await sms.sent_to("+8613900000200", 1)
    number = NUMBER.search(confirmation.body).group(1)  # type: ignore[union-attr]
    await sms.text(f"取消预约 {number}", sender="+8613900000200")
    _, cancelled = await sms.sent_to("+8613900000200", 2)
    assert "已取消" in cancelled.body
    await sms.text("预约 341881001 2026-12-14 宅基地纠纷", sender="+8613900000300")
    _, booked = await sms.sent_to("+8613900000300", 2)
    assert NUMBER.search(booked.body), booked.body


async def test_a_telegram_chat_books_is_reminded_and_cancels(tg: Tg) -> None:
    services = tg.gateway.services
    services.clock = lambda: MONDAY
    chat = 5550001
    booked = as_chat(payload("message_zh.json"), chat, text=f"/book 341800 {TUESDAY} 工资拖欠")
    assert (await tg.post(booked)).status_code == 200
    [confirmation] = await tg.answers(chat, 1)
    found = NUMBER.search(confirmation.params["text"])
    assert found, confirmation.params["text"]
    await send_reminders(services)
    _, reminder = await tg.answers(chat, 2)
    assert "提醒" in reminder.params["text"] and found.group(1) in reminder.params["text"]
    cancel = as_chat(payload("message_zh.json"), chat, text=f"取消预约 {found.group(1)}")
    assert (await tg.post(cancel)).status_code == 200
    *_, cancelled = await tg.answers(chat, 3)
    assert "已取消" in cancelled.params["text"]


async def test_department_staff_see_the_register_masked_and_cannot_register(
    gateway: Gateway,
) -> None:
    services = gateway.services
    boss = await gateway.staff("boss")
    visit = {
        "register_id": "desk-mask",
        "unit": "341800",
        "received_at": services.now().isoformat(),
        "matter": f"身份证{IDS[0]}，电话13900000001，小区拆迁补偿款一直没有发放",
        "outcome": "referred",
        "reason": "已起诉，引导至法院",
        "visitors": [_visitor(0, WEB_PHONE)],
    }
    assert (await boss.post("/api/v1/visits", json=visit)).status_code == 201
    li = await console(gateway, "li")
    page = (await li.get("/console/visits")).text
    assert "register-row" in page and 'data-testid="visit-form"' not in page
    assert IDS[0] not in page and "13900000001" not in page and "34**************17" in page
    listed = (await (await gateway.staff("li")).get("/api/v1/visits")).json()
    assert IDS[0] not in str(listed) and "13900000001" not in str(listed)
    form = {"csrf": csrf_of(page), "visitors": "甲 13900000001", "matter": "x"}
    assert (await li.post("/console/visits/new", data=form)).status_code == 403

    # The reception's video record, uploaded on the console's form, opens for the centre only.
    desk = await console(gateway, "boss")
    page = (await desk.get("/console/visits")).text
    register_id = re.search(r'name="register_id" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    fields = {
        "csrf": csrf_of(page),
        "register_id": register_id,
        "unit": "341800",
        "kind": "centre",
        "received_at": f"{services.now().astimezone(CITY) + timedelta(minutes=2):%Y-%m-%dT%H:%M}",
        "visitors": f"张三 {IDS[0]} 13900000001",
        "matter": "小区拆迁补偿款一直没有发放",
        "outcome": "answered",
    }
    video = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64
    done = await desk.post("/console/visits/new", data=fields, files={"files": ("接访.mp4", video)})
    assert done.status_code == 201, done.text
    listed = (await boss.get("/api/v1/visits")).json()
    recorded = next(v for v in listed if v["attachments"])
    assert recorded["attachments"][0].startswith("file:") and recorded["repeat"]
    path = f"/api/v1/visits/{recorded['id']}/attachments/0"
    opened = await boss.get(path)
    assert opened.status_code == 200 and opened.content == video
    assert opened.headers["content-disposition"].startswith("attachment")
    assert (await (await gateway.staff("li")).get(path)).status_code == 403
    exe = await desk.post("/console/visits/new", data=fields | {"register_id": "desk-exe"},
                          files={"files": ("x.exe", b"MZ\x90\x00")})  # fmt: skip
    assert exe.status_code == 415 and "小区拆迁补偿款" in exe.text


async def test_the_same_registration_at_the_same_moment_is_one_visit(
    sms: Sms, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two desks submit one registration at once: both pass the look-up before either commits;
    the database's unique register id turns the second into the first's answer, not a 500."""
    from civicline.storage.visits import SqlVisits

    services = sms.gateway.services
    services.clock = lambda: datetime(2026, 12, 8, 9, 30, tzinfo=CITY)
    boss = await sms.gateway.staff("boss")
    batch = {
        "register_id": "desk-race",
        "unit": "341800",
        "matter": "村里的道路修了一半就停工了，雨天没法通行，希望尽快复工",
        "outcome": "accepted",
        "visitors": [_visitor(0), _visitor(1)],
    }
    first = await boss.post("/api/v1/visits", json=batch)
    assert first.status_code == 201, first.text

    real = SqlVisits.by_register_id
    looked = 0

    async def not_yet_committed(self: SqlVisits, register_id: str) -> object:
        nonlocal looked
        looked += 1
        return None if looked == 1 else await real(self, register_id)

    monkeypatch.setattr(SqlVisits, "by_register_id", not_yet_committed)
    second = await boss.post("/api/v1/visits", json=batch | {"visitors": [_visitor(2)]})
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["case_numbers"] == first.json()["case_numbers"]
    assert looked == 2
    listed = (await boss.get("/api/v1/visits", params={"since": "2026-12-08"})).json()
    assert [v["id"] for v in listed] == [first.json()["id"]]
