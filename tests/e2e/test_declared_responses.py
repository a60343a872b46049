"""Every answer is one the OpenAPI document declares (issue 18, defect 12): its status is listed
for the operation, and its body validates against the declared schema, errors included (a
refusal's ``detail`` is a sentence; a field problem's a list). 405 names every method of the
path in ``Allow``."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema

from tests.support.gateway import Gateway
from tests.support.polling import eventually


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    for template, operations in spec["paths"].items():
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return dict(operations[method.lower()])
    raise AssertionError(f"{method} {path} is not in the document")


def _conforms(spec: dict[str, Any], answer: httpx.Response) -> None:
    request = answer.request
    operation = _operation(spec, request.method, request.url.path)
    status = str(answer.status_code)
    declared = operation["responses"]
    assert status in declared, (request.method, request.url.path, status, sorted(declared))
    content = declared[status].get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if schema:
        document = {"components": spec["components"], **schema}
        jsonschema.validate(answer.json(), document, cls=jsonschema.Draft202012Validator)


async def test_refusals_are_declared_with_their_bodies(gateway: Gateway) -> None:
    spec = (await gateway.citizen().get("/openapi.json")).json()
    anonymous = gateway.citizen()
    boss = await gateway.staff("boss")
    li = await gateway.staff("li")
    citizen = gateway.citizen()
    await citizen.get("/")
    await citizen.post(
        "/api/v1/webchat/messages",
        json={"client_message_id": "m-1", "text": "解放路上的井盖丢了，很危险，车和人都容易掉进去"},
    )

    async def case_number() -> str | None:
        messages = (await citizen.get("/api/v1/webchat/messages")).json()["messages"]
        return next((m["case_number"] for m in messages if m["case_number"]), None)

    number = await eventually(case_number)
    answers = [
        await anonymous.get("/api/v1/cases"),  # 401
        await anonymous.post("/api/v1/auth/token", json={"username": "li", "password": "no"}),
        await boss.get("/api/v1/cases/991231-00001"),  # 404
        await boss.get("/api/v1/cases", params={"department": "nowhere"}),  # 404
        await boss.post(f"/api/v1/cases/{number}/close", json={"reason": "done"}),  # 409
        await li.get("/api/v1/stats/rates", params={"department": "transport"}),  # 403
        # 422 with a sentence: rules no schema says.
        await boss.post("/api/v1/callbacks/1", json={"reached": False}),
        await boss.get("/api/v1/stats/rates", params={"since": "2020-01-01"}),
        await boss.get("/api/v1/supervision/report", params={"since": "yesterday"}),
        await boss.post(
            f"/api/v1/cases/{number}/supervision",
            json={"instruction": "快办", "due_working_days": 2, "due_at": "2026-12-31T00:00:00Z"},
        ),
        await boss.post("/api/v1/hotline/suggest", json={"transcript": "   "}),
        await citizen.post(
            "/api/v1/webchat/messages", json={"client_message_id": "m-2", "text": " "}
        ),
        # 422 per field, and 400 for a body that is not even UTF-8.
        await boss.get("/api/v1/cases", params={"limit": 0}),
        await boss.post(
            "/api/v1/notifications/read",
            content=b"\xff\x15",
            headers={"content-type": "application/json"},
        ),
        await anonymous.get("/api/v1/cases/991231-00001/dossier"),  # 401, JSON like all
        await boss.post("/api/v1/notifications/read", json={"ids": [False]}),  # not an id
        await citizen.post(  # 413
            "/api/v1/webchat/messages",
            json={"client_message_id": "m-3", "text": "路" * 30_000},
        ),
    ]
    for answer in answers:
        _conforms(spec, answer)
    assert {a.status_code for a in answers} == {400, 401, 403, 404, 409, 413, 422}


async def test_405_allows_every_method_of_the_path(gateway: Gateway) -> None:
    boss = await gateway.staff("boss")
    # A case's sub-resource that takes GET only is not taken for an unknown action (422).
    suggestions = await boss.post("/api/v1/cases/991231-00001/suggestions", json={})
    assert suggestions.status_code == 405 and suggestions.headers["allow"] == "GET"
    http = gateway.citizen()
    chat = await http.request("OPTIONS", "/api/v1/webchat/messages")
    assert chat.status_code == 405 and chat.headers["allow"] == "GET, POST"
    open311 = await http.request("OPTIONS", "/open311/v2/requests.json")
    assert open311.status_code == 405 and open311.headers["allow"] == "GET, POST"
