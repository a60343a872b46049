"""Open311 GeoReport v2 end to end, over HTTP against the real gateway and its worker.

Every answer is checked against a JSON Schema written from the spec
(``tests/fixtures/open311``), and its XML twin is parsed and compared field by field.
No GET may carry anything the submitter told about themselves.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from tests.support.gateway import Gateway, serving
from tests.support.places import Places
from tests.support.polling import eventually

SCHEMAS = Path(__file__).resolve().parents[1] / "fixtures" / "open311"
KEY = "open311-test-key"
JURISDICTION = "city.example.gov"
V2 = "/open311/v2"

# What the submitter tells about themselves: none of it may appear in a GET.
PERSONAL = {
    "first_name": "Weiming",
    "last_name": "Zhangsun",
    "email": "weiming.zs@example.com",
    "phone": "13812345678",
    "device_id": "device-5f3a9c",
    "account_id": "acct-778899",
}
SECRETS = [*PERSONAL.values(), "+8613812345678", "13987654321", KEY]
REQUEST = {
    "api_key": KEY,
    "jurisdiction_id": JURISDICTION,
    "service_code": "transport",
    "lat": "30.2741",
    "long": "120.1551",
    "address_string": "幸福路公交站",
    "description": "幸福路公交站的候车亭顶棚塌了一半，下雨没地方躲。有事打我电话13987654321。",
    "media_url": "https://photos.example.org/shelter.jpg?size=large&v=2",
    **PERSONAL,
}


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text("utf-8"))
    return loaded


def valid(name: str, document: Any) -> Any:
    jsonschema.validate(document, schema(name))
    return document


def xml_items(body: bytes, root: str, item: str) -> list[dict[str, str]]:
    """``<root><item><field>…`` as dicts of text (an empty element is "")."""
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    tree = ET.fromstring(body)
    assert tree.tag == root
    assert all(child.tag == item for child in tree)
    return [{field.tag: field.text or "" for field in child} for child in tree]


def as_xml_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def same_fields(json_items: list[dict[str, Any]], xml: list[dict[str, str]]) -> None:
    assert len(json_items) == len(xml)
    for from_json, from_xml in zip(json_items, xml, strict=True):
        assert set(from_json) == set(from_xml)
        for key, value in from_json.items():
            if isinstance(value, float):
                assert float(from_xml[key]) == value
            else:
                assert from_xml[key] == as_xml_text(value), key


class Open311Client:
    """GETs and POSTs in both formats; every GET body is kept for the privacy check."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.http = gateway.citizen()
        self.bodies: list[bytes] = []

    async def get(self, path: str, **params: str) -> httpx.Response:
        answer = await self.http.get(V2 + path, params=params)
        self.bodies.append(answer.content)
        return answer

    async def both(
        self, path: str, root: str, item: str, schema_name: str, **params: str
    ) -> list[dict[str, Any]]:
        """The JSON answer, checked against its schema and against the XML answer."""
        as_json = await self.get(f"{path}.json", **params)
        assert as_json.status_code == 200, as_json.text
        assert as_json.headers["content-type"] == "application/json; charset=utf-8"
        items: list[dict[str, Any]] = valid(schema_name, as_json.json())
        as_xml = await self.get(f"{path}.xml", **params)
        assert as_xml.status_code == 200, as_xml.text
        assert as_xml.headers["content-type"] == "text/xml; charset=utf-8"
        same_fields(items, xml_items(as_xml.content, root, item))
        return items

    async def file(self, fmt: str = "json", **changes: str) -> httpx.Response:
        form = {**REQUEST, **changes}
        return await self.http.post(
            f"{V2}/requests.{fmt}", data={k: v for k, v in form.items() if v is not None}
        )

    async def case_of(self, token: str) -> str:
        async def opened() -> str | None:
            # Only once the case is open are the two formats compared: asked while the worker
            # opens it, JSON could say "not yet" and XML, a moment later, its number.
            pending = await self.get(f"/tokens/{token}.json")
            if pending.status_code != 200 or pending.json()[0]["service_request_id"] is None:
                return None
            found = await self.both(f"/tokens/{token}", "service_requests", "request", "tokens")
            assert found[0]["token"] == token
            number: str | None = found[0]["service_request_id"]
            return number

        number: str = await eventually(opened)
        return number

    def assert_private(self) -> None:
        assert self.bodies
        for body in self.bodies:
            text = body.decode("utf-8")
            for secret in SECRETS:
                assert secret not in text
            is_xml = text.startswith("<?xml")
            for field in PERSONAL:  # neither as a JSON key nor as an XML element
                assert (f"<{field}>" if is_xml else f'"{field}"') not in text


@pytest.fixture
async def open311_gateway(places: Places) -> AsyncIterator[Gateway]:
    async with (
        places.services(
            open311_api_keys=f"another-key, {KEY}", open311_jurisdiction_id=JURISDICTION
        ) as services,
        serving(services) as gateway,
    ):
        yield gateway


@pytest.fixture
async def client(open311_gateway: Gateway) -> AsyncIterator[Open311Client]:
    client = Open311Client(open311_gateway)
    yield client
    await client.http.aclose()


async def test_discovery_services_and_definitions(client: Open311Client) -> None:
    as_json = await client.get("/discovery.json")
    found = valid("discovery", as_json.json())
    endpoint = found["endpoints"][0]
    assert endpoint["url"].endswith("/open311/v2")
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    tree = ET.fromstring((await client.get("/discovery.xml")).content)
    assert tree.tag == "discovery"
    assert tree.findtext("contact") == found["contact"]
    assert tree.findtext("endpoints/endpoint/url") == endpoint["url"]
    assert [f.text for f in tree.findall("endpoints/endpoint/formats/format")] == endpoint[
        "formats"
    ]

    listed = await client.both("/services", "services", "service", "services")
    taxonomy = client.gateway.services.taxonomy
    assert [s["service_code"] for s in listed] == list(taxonomy.categories)
    transport = next(s for s in listed if s["service_code"] == "transport")
    assert transport["service_name"] == "交通运输"
    assert transport["group"] == "市交通运输局"
    assert transport["type"] == "batch" and transport["metadata"] is False
    assert "公交" in transport["keywords"] and "bus" not in transport["keywords"]
    english = await client.both("/services", "services", "service", "services", locale="en")
    transport_en = next(s for s in english if s["service_code"] == "transport")
    assert transport_en["service_name"] == "Transport"
    assert "bus stop" in transport_en["keywords"]
    by_header = await client.http.get(
        f"{V2}/services.json", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"}
    )
    assert by_header.json()[0]["service_name"] == english[0]["service_name"]

    definition = valid("service_definition", (await client.get("/services/transport.json")).json())
    assert definition == {"service_code": "transport", "attributes": []}
    tree = ET.fromstring((await client.get("/services/transport.xml")).content)
    assert tree.tag == "service_definition"
    assert tree.findtext("service_code") == "transport"
    attributes = tree.find("attributes")
    assert attributes is not None and len(attributes) == 0


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_a_request_becomes_a_case_clients_can_follow(client: Open311Client, fmt: str) -> None:
    filed = await client.file(fmt)
    assert filed.status_code == 200, filed.text
    if fmt == "json":
        answer = valid("post_requests", filed.json())[0]
    else:
        answer = xml_items(filed.content, "service_requests", "request")[0]
        assert set(answer) == {"token", "service_notice", "account_id"}
    assert "service_request_id" not in answer
    assert answer["account_id"] == PERSONAL["account_id"]
    assert "5个工作日" in answer["service_notice"]
    number = await client.case_of(answer["token"])

    shown = (await client.both(f"/requests/{number}", "service_requests", "request", "requests"))[0]
    assert shown["service_request_id"] == number
    assert shown["status"] == "open"
    assert shown["service_code"] == "transport"
    assert shown["service_name"] == "交通运输"
    assert shown["agency_responsible"] == "市交通运输局"
    assert shown["address"] == "幸福路公交站"
    assert (shown["lat"], shown["long"]) == (30.2741, 120.1551)
    assert shown["media_url"] == REQUEST["media_url"]
    assert shown["description"].startswith("幸福路公交站的候车亭顶棚塌了一半")
    assert "<phone>" in shown["description"]
    assert shown["requested_datetime"].endswith("+08:00")
    assert shown["expected_datetime"] > shown["requested_datetime"]
    assert shown["status_notes"] is None
    # A collapsing shelter is urgent: the notice gives the urgent deadlines.
    assert shown["service_notice"].startswith("紧急：1小时内受理，1个工作日内办结")

    found = await client.both(
        "/requests", "service_requests", "request", "requests", service_code="transport,health"
    )
    assert number in [r["service_request_id"] for r in found]
    closed = await client.both(
        "/requests", "service_requests", "request", "requests", status="closed"
    )
    assert number not in [r["service_request_id"] for r in closed]
    by_id = await client.both(
        "/requests", "service_requests", "request", "requests", service_request_id=f"{number},x"
    )
    assert [r["service_request_id"] for r in by_id] == [number]
    later = await client.both(
        "/requests", "service_requests", "request", "requests", start_date="2099-01-01T00:00:00Z"
    )
    assert later == []

    async with client.gateway.services.uow() as uow:
        case = await uow.cases.by_number(number)
        assert case.department == "transport" and case.place == "幸福路公交站"
        assert case.location == (30.2741, 120.1551)
        assert case.channel.value == "open311"
        assert case.id is not None
        inbound = await uow.inbox.for_case(case.id)
        outbound = await uow.outbox.for_case(case.id)
    assert inbound[0].meta["open311"]["email"] == PERSONAL["email"]
    assert inbound[0].meta["open311"]["phone"] == "+8613812345678"
    assert inbound[0].sender_address.startswith("account:")
    assert inbound[0].attachments == ["url:" + REQUEST["media_url"]]
    assert outbound == []  # an Open311 client polls: no automatic reply
    client.assert_private()


async def test_staff_replies_and_closing_reach_the_client(client: Open311Client) -> None:
    filed = await client.file()
    number = await client.case_of(filed.json()[0]["token"])
    staff = await client.gateway.staff("zhao")
    try:
        reply = await staff.post(
            f"/api/v1/cases/{number}/replies",
            json={"text": "已通知公交公司抢修候车亭，请留意13987654321以外的安全通道。"},
        )
        assert reply.status_code == 202, reply.text

        async def published() -> list[dict[str, Any]]:
            updates = await client.both(
                "/servicerequestupdates",
                "service_request_updates",
                "request_update",
                "updates",
            )
            return [u for u in updates if u["service_request_id"] == number]

        replied = await eventually(published)
        assert replied[0]["status"] == "open"
        assert replied[0]["description"].startswith("已通知公交公司抢修候车亭")
        assert "<phone>" in replied[0]["description"]
        shown = await client.both(f"/requests/{number}", "service_requests", "request", "requests")
        assert shown[0]["status_notes"] == replied[0]["description"]

        closing = await staff.post(
            f"/api/v1/cases/{number}/close", json={"reason": "候车亭顶棚已修复。"}
        )
        assert closing.status_code == 200, closing.text
        updates = await published()
        assert [u["status"] for u in updates] == ["open", "closed"]
        assert updates[1]["description"] == "候车亭顶棚已修复。"
        assert len({u["update_id"] for u in updates}) == 2
        shown = await client.both(f"/requests/{number}", "service_requests", "request", "requests")
        assert shown[0]["status"] == "closed"
        assert shown[0]["status_notes"] == "候车亭顶棚已修复。"
        window = await client.both(
            "/servicerequestupdates",
            "service_request_updates",
            "request_update",
            "updates",
            start_date="2099-01-01T00:00:00+08:00",
        )
        assert window == []
    finally:
        await staff.aclose()
    async with client.gateway.services.uow() as uow:
        case = await uow.cases.by_number(number)
        assert case.id is not None
        sent = await uow.outbox.for_case(case.id)
    # The staff reply only, published: an Open311 app cannot answer a rating request.
    assert [(m.author, m.status.value) for m in sent] == [("staff:zhao", "sent")]
    client.assert_private()


ERRORS = [
    # (what, method, path, form or params, HTTP status)
    ("no api_key", "POST", "/requests", {"api_key": ""}, 403),
    ("wrong api_key", "POST", "/requests", {"api_key": "guess"}, 403),
    ("unknown service_code", "POST", "/requests", {"service_code": "potholes"}, 404),
    ("no service_code", "POST", "/requests", {"service_code": ""}, 400),
    ("no location", "POST", "/requests", {"lat": "", "long": "", "address_string": ""}, 400),
    ("half a location", "POST", "/requests", {"long": "", "address_string": ""}, 400),
    ("no description", "POST", "/requests", {"description": "  "}, 400),
    ("bad phone", "POST", "/requests", {"phone": "12"}, 400),
    ("other jurisdiction", "POST", "/requests", {"jurisdiction_id": "elsewhere.gov"}, 404),
    ("unknown id", "GET", "/requests/991231-99999", {}, 404),
    ("unknown token", "GET", "/tokens/0123456789abcdef", {}, 404),
    ("unknown service", "GET", "/services/potholes", {}, 404),
    ("bad date", "GET", "/requests", {"start_date": "last tuesday"}, 400),
    (
        "backwards dates",
        "GET",
        "/requests",
        {"start_date": "2026-02-01", "end_date": "2026-01-01"},
        400,
    ),
    (
        "span over 90 days",
        "GET",
        "/requests",
        {"start_date": "2026-01-01", "end_date": "2026-06-01"},
        400,
    ),
    ("bad status", "GET", "/requests", {"status": "pending"}, 400),
    ("bad updates date", "GET", "/servicerequestupdates", {"end_date": "2026-13-01"}, 400),
    ("GET in other jurisdiction", "GET", "/services", {"jurisdiction_id": "elsewhere.gov"}, 404),
]


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_errors_as_the_spec_defines_them(client: Open311Client, fmt: str) -> None:
    for what, method, path, values, status in ERRORS:
        if method == "POST":
            answer = await client.file(fmt, **values)
        else:
            answer = await client.get(f"{path}.{fmt}", **values)
        assert answer.status_code == status, (what, answer.text)
        if fmt == "json":
            assert answer.headers["content-type"] == "application/json; charset=utf-8", what
            errors = valid("errors", answer.json())
        else:
            assert answer.headers["content-type"] == "text/xml; charset=utf-8", what
            errors = [
                {"code": int(e["code"]), "description": e["description"]}
                for e in xml_items(answer.content, "errors", "error")
            ]
            valid("errors", errors)
        assert status in [e["code"] for e in errors], what
    several = await client.file(
        fmt, service_code="", description="", lat="", long="", address_string=""
    )
    assert several.status_code == 400
    assert several.text.count("missing") == 3
    as_json_body = await client.http.post(f"{V2}/requests.{fmt}", json=REQUEST)
    assert as_json_body.status_code == 400
    assert "application/x-www-form-urlencoded" in as_json_body.text
    unknown_format = await client.get("/services.html")
    assert unknown_format.status_code == 404
    assert unknown_format.headers["content-type"] == "text/xml; charset=utf-8"
    client.assert_private()


async def test_filing_is_off_without_keys(gateway: Gateway) -> None:
    async with gateway.citizen() as http:
        answer = await http.post(f"{V2}/requests.json", data={**REQUEST, "api_key": "anything"})
        assert answer.status_code == 403
        [error] = valid("errors", answer.json())
        assert "no API keys" in error["description"]
        listed = await http.get(f"{V2}/services.json")  # reading stays open
        assert listed.status_code == 200
