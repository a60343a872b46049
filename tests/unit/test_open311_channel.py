"""The Open311 channel without HTTP: reading a POST, keys, dates, languages and formats."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from civicline.channels import open311
from civicline.channels.open311 import Format, Intake, Open311Error
from civicline.domain.cases import CaseStatus
from civicline.domain.messages import (
    Channel,
    DeliveryStatus,
    InboundMessage,
    Language,
    OutboundMessage,
)
from civicline.handlers.open311 import CLOSED, OPEN, public_status, update_view
from civicline.storage.open311 import Update
from civicline.storage.taxonomy_file import load_taxonomy

TAXONOMY = load_taxonomy()
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
CITY = ZoneInfo("Asia/Shanghai")
INTAKE = Intake(TAXONOMY, "CN", "ab12cd34")
FORM = {
    "service_code": "transport",
    "lat": "30.27",
    "long": "120.15",
    "description": "  The bus stop shelter on Xingfu Road is broken.  ",
}


def read(**changes: str) -> InboundMessage:
    return open311.to_inbound({**FORM, **changes}, INTAKE, now=NOW, token="tok")


def problems(**changes: str) -> Open311Error:
    with pytest.raises(Open311Error) as caught:
        read(**changes)
    return caught.value


def test_a_request_becomes_an_inbox_message() -> None:
    message = read(
        address_string="Xingfu Road stop",
        media_url="https://example.org/a.jpg",
        phone="139 1234 5678",
        first_name="Wei",
    )
    assert message.channel == Channel.OPEN311 and message.provider_message_id == "tok"
    assert message.text == "The bus stop shelter on Xingfu Road is broken."
    assert message.language == Language.EN
    assert message.location == (30.27, 120.15)
    assert message.attachments == ["url:https://example.org/a.jpg"]
    assert message.sender_address == "phone:+8613912345678"
    meta = message.meta["open311"]
    assert meta["service_code"] == "transport" and meta["address_string"] == "Xingfu Road stop"
    assert meta["phone"] == "+8613912345678" and meta["first_name"] == "Wei"
    assert meta["email"] is None and meta["client"] == "ab12cd34"


@pytest.mark.parametrize(
    ("fields", "address"),
    [
        (
            {"account_id": "u1", "email": "A@B.org", "phone": "13912345678", "device_id": "d"},
            "account:ab12cd34:u1",
        ),
        ({"email": "A@B.org", "phone": "13912345678", "device_id": "d"}, "email:a@b.org"),
        ({"phone": "13912345678", "device_id": "d"}, "phone:+8613912345678"),
        ({"device_id": "d-1"}, "device:d-1"),
        ({}, "anonymous:tok"),
    ],
)
def test_the_citizen_is_known_by_account_then_email_phone_device(
    fields: dict[str, str], address: str
) -> None:
    assert read(**fields).sender_address == address


def test_control_characters_are_dropped() -> None:
    message = read(description="路灯\x00坏了\x07\n第二行", address_string="幸福路\x1b18号")
    assert message.text == "路灯坏了\n第二行"
    assert message.meta["open311"]["address_string"] == "幸福路18号"


def test_an_address_alone_is_a_location() -> None:
    message = read(lat="", long="", address_string="幸福路18号")
    assert message.location is None and message.meta["open311"]["address_string"] == "幸福路18号"
    assert message.language == Language.EN  # the description's language, not the address's


def test_every_problem_is_told_at_once_without_the_values() -> None:
    error = problems(
        service_code="", lat="", long="", description="", email="not-an-email", phone="12"
    )
    assert error.status == 400
    descriptions = [d for _, d in error.errors]
    assert descriptions == [
        "service_code is missing",
        "a location is missing: send lat and long, or address_string",
        "description is missing: say what is wrong",
        "email is not an e-mail address",
        "phone is not a valid phone number",
    ]
    assert all("not-an-email" not in d for d in descriptions)


@pytest.mark.parametrize(
    ("changes", "status", "says"),
    [
        ({"service_code": "potholes"}, 404, "service_code not found"),
        ({"service_code": "potholes", "description": ""}, 400, "description is missing"),
        ({"long": ""}, 400, "lat and long must be sent together"),
        ({"lat": "north"}, 400, "decimal degrees"),
        ({"lat": "nan"}, 400, "decimal degrees"),
        ({"lat": "91"}, 400, "within -90..90"),
        ({"lat": "", "long": "", "address_id": "A-1"}, 400, "address_id is not used here"),
        ({"description": "x" * 4001}, 400, "longer than 4000"),
        ({"media_url": "javascript:alert(1)"}, 400, "http or https URL"),
        ({"address_string": "x" * 201}, 400, "address_string is longer than 200"),
        ({"account_id": "x" * 101}, 400, "account_id is longer than 100"),
    ],
)
def test_bad_requests(changes: dict[str, str], status: int, says: str) -> None:
    error = problems(**changes)
    assert error.status == status
    assert any(says in d for _, d in error.errors)


def test_api_keys() -> None:
    assert open311.api_keys(" a, ,b ,") == ("a", "b")
    with pytest.raises(Open311Error, match="no API keys are configured"):
        open311.client_of("a", ())
    with pytest.raises(Open311Error, match="api_key is missing") as missing:
        open311.client_of(None, ("a",))
    assert missing.value.status == 403
    with pytest.raises(Open311Error, match="api_key is invalid"):
        open311.client_of("c", ("a", "b"))
    fingerprint = open311.client_of("b", ("a", "b"))
    assert len(fingerprint) == 8 and fingerprint == open311.client_of("b", ("b",))
    assert fingerprint != open311.client_of("a", ("a",))


def test_jurisdiction() -> None:
    open311.check_jurisdiction(None, "city.gov")
    open311.check_jurisdiction("city.gov", "city.gov")
    open311.check_jurisdiction("anything", None)  # one jurisdiction, unnamed: ignored
    with pytest.raises(Open311Error) as other:
        open311.check_jurisdiction("elsewhere.gov", "city.gov")
    assert other.value.status == 404


@pytest.mark.parametrize(
    ("locale", "header", "language"),
    [
        (None, None, Language.ZH),
        ("en", "zh-CN", Language.EN),
        ("zh_CN", "en", Language.ZH),
        (None, "en-GB,en;q=0.9,zh;q=0.8", Language.EN),
        (None, "zh;q=0.9,en;q=0.4", Language.ZH),
        (None, "fr-FR, de", Language.ZH),
        (None, "en;q=oops, zh", Language.ZH),
    ],
)
def test_language(locale: str | None, header: str | None, language: Language) -> None:
    assert open311.language_of(locale, header) == language


def test_date_windows() -> None:
    assert open311.parse_window({}, now=NOW, timezone=CITY, max_span=None) == (
        NOW - timedelta(days=90),
        NOW,
    )
    since, until = open311.parse_window(
        {"start_date": "2026-11-01"}, now=NOW, timezone=CITY, max_span=open311.MAX_SPAN
    )
    assert since == datetime(2026, 11, 1, tzinfo=CITY) and until - since == timedelta(days=90)
    since, until = open311.parse_window(
        {"start_date": "2026-11-01T00:00:00Z", "end_date": "2026-11-02T08:00:00+08:00"},
        now=NOW,
        timezone=CITY,
        max_span=open311.MAX_SPAN,
    )
    assert (since, until) == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    for params, says in [
        ({"start_date": "yesterday"}, "start_date is not an ISO 8601"),
        ({"end_date": "2026-02-30"}, "end_date is not an ISO 8601"),
        ({"start_date": "2026-11-02", "end_date": "2026-11-01"}, "after end_date"),
        ({"start_date": "2026-01-01", "end_date": "2026-11-01"}, "more than 90 days"),
    ]:
        with pytest.raises(Open311Error, match=says):
            open311.parse_window(params, now=NOW, timezone=CITY, max_span=open311.MAX_SPAN)
    # Updates have no span limit.
    open311.parse_window(
        {"start_date": "2026-01-01", "end_date": "2026-11-01"},
        now=NOW,
        timezone=CITY,
        max_span=None,
    )


def test_request_queries() -> None:
    by_id = open311.request_query(
        {"service_request_id": "a, b", "status": "bogus"}, now=NOW, timezone=CITY
    )
    assert by_id.numbers == ("a", "b") and by_id.since is None  # ids override the rest
    query = open311.request_query(
        {"service_code": "transport,health", "status": "OPEN"}, now=NOW, timezone=CITY
    )
    assert query.categories == ("transport", "health") and query.statuses == OPEN
    assert query.limit == 1000 and query.until == NOW
    both = open311.request_query({"status": "open,closed"}, now=NOW, timezone=CITY)
    assert both.statuses == frozenset(CaseStatus)
    with pytest.raises(Open311Error, match="at most 200"):
        open311.request_query(
            {"service_request_id": ",".join(str(i) for i in range(201))}, now=NOW, timezone=CITY
        )


def test_statuses_map_to_open_and_closed() -> None:
    assert {public_status(s) for s in CLOSED} == {"closed"}
    assert public_status(CaseStatus.ANSWERED) == "open"
    assert public_status(CaseStatus.REOPENED) == "open"
    assert frozenset(CaseStatus) == OPEN | CLOSED and not OPEN & CLOSED


@pytest.mark.parametrize(
    ("status", "into", "text", "language", "shown"),
    [
        (CaseStatus.MERGED, "261127-00002", "", Language.EN, "Merged into case 261127-00002"),
        (
            CaseStatus.MERGED,
            "261127-00002",
            "同一站台",
            Language.ZH,
            "已并入案件 261127-00002: 同一站台",
        ),
        (CaseStatus.REJECTED, None, "请拨打13912345678咨询", Language.ZH, "请拨打<phone>咨询"),
        (CaseStatus.ANSWERED, None, "已修复", Language.ZH, "已修复"),
    ],
)
def test_update_notes_are_public_and_masked(
    status: CaseStatus, into: str | None, text: str, language: Language, shown: str
) -> None:
    update = Update("event-1", 1, "261127-00001", NOW, status, text, merged_into=into)
    view = update_view(update, language=language, timezone=CITY)
    assert view.description == shown
    assert view.status == ("open" if status == CaseStatus.ANSWERED else "closed")
    assert view.updated_datetime.isoformat() == "2026-11-27T10:00:00+08:00"


def test_xml_is_escaped_and_carries_only_what_xml_can() -> None:
    items = [{"description": 'A & B <b>"x"</b>\x00\x1f end', "ok": True, "none": None, "n": 1.5}]
    body = open311.render_list(Format.XML, "service_requests", "request", items)
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<service_requests>')
    request = ET.fromstring(body).find("request")
    assert request is not None
    assert request.findtext("description") == 'A & B <b>"x"</b> end'
    assert request.findtext("ok") == "true" and request.findtext("none") == ""
    assert request.findtext("n") == "1.5"
    as_json = open311.render_list(Format.JSON, "service_requests", "request", items)
    assert json.loads(as_json)[0]["none"] is None and "<b>" in as_json.decode()


def test_lists_inside_objects_use_the_spec_element_names() -> None:
    document = open311.discovery(
        base_url="https://city.example/", changeset=NOW, contact="c", key_service="k"
    )
    tree = ET.fromstring(open311.render_object(Format.XML, "discovery", document))
    assert tree.findtext("endpoints/endpoint/url") == "https://city.example/open311/v2"
    assert [f.text for f in tree.findall("endpoints/endpoint/formats/format")] == [
        "text/xml",
        "application/json",
    ]


def test_services_speak_the_language_asked_for() -> None:
    zh = {s["service_code"]: s for s in open311.services(TAXONOMY, Language.ZH)}
    en = {s["service_code"]: s for s in open311.services(TAXONOMY, Language.EN)}
    assert zh["environment"]["keywords"].startswith("噪声污染, 噪音")
    assert "noise" not in zh["environment"]["keywords"]
    assert en["environment"]["keywords"].startswith("Noise, noise")
    assert en["environment"]["group"] == "Bureau of Ecology and Environment"
    # The catch-all's keywords are its sub-categories' (建议, 表扬 …), each in its language.
    assert zh["other"]["keywords"].startswith("意见建议, 建议")
    assert en["other"]["keywords"].startswith("Suggestions for the city, suggestion")
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in en["other"]["keywords"])
    with pytest.raises(Open311Error) as unknown:
        open311.service_definition(TAXONOMY, "potholes")
    assert unknown.value.status == 404


async def test_sending_is_publishing() -> None:
    sender = open311.Open311Sender()
    result = await sender.send(
        OutboundMessage(
            channel=Channel.OPEN311, recipient_address="x", text="t", created_at=NOW, id=7
        )
    )
    assert (sender.channel, result.status, result.provider_message_id) == (
        Channel.OPEN311,
        DeliveryStatus.SENT,
        "open311-7",
    )
