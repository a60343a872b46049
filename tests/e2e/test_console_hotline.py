"""The hotline operator's form in the console over HTTP: suggest, correct, file, read the number
out; one case per call id; clerks refused; errors keep what was typed; text escaped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
from sqlalchemy import text

from civicline.domain.accounts import Role
from civicline.gateway.users import create_user
from civicline.nlu.corrections import corrections_path
from civicline.nlu.training_data import load_examples
from tests.support.console import console
from tests.support.gateway import PASSWORD, Gateway

BUS = "公交车司机开车打电话，很危险"
CALL = f"话务员：您好，12345热线。\n来电人：{BUS}\n车牌号记不清了\n话务员：好的，已记录。"
NUMBER = re.compile(r'data-testid="filed-number">(\d{6}-\d{5,})<')


class FormReader(HTMLParser):
    """The values a browser would send for the page's first form: inputs, textareas, the
    selected option of each select (the first when none is), ticked checkboxes."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.errors: set[str] = set()
        self._form_done = False
        self._select: str | None = None
        self._select_first: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if a.get("aria-invalid") == "true":
            self.errors.add(a.get("name", ""))
        if self._form_done:
            return
        if tag == "input" and "name" in a:
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.values[a["name"]] = "on"
            else:
                self.values[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[a["name"]] = ""
        elif tag == "select":
            self._select, self._select_first = a["name"], None
        elif tag == "option" and self._select:
            if self._select_first is None:
                self._select_first = a.get("value", "")
            if "selected" in a:
                self.values[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select:
            self.values.setdefault(self._select, self._select_first or "")
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form" and "csrf" in self.values and "call_id" in self.values:
            self._form_done = True

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def form_of(html: str) -> FormReader:
    reader = FormReader()
    reader.feed(html)
    return reader


async def operator(gateway: Gateway, username: str = "wang") -> httpx.AsyncClient:
    services = gateway.services
    await create_user(
        services.uow(),
        services.taxonomy,
        username,
        PASSWORD,
        Role.OPERATOR,
        None,
        now=services.now(),
    )
    return await console(gateway, username)


async def cases_filed(gateway: Gateway) -> int:
    async with gateway.services.engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM cases"))).scalar_one())


async def blank_form(client: httpx.AsyncClient) -> dict[str, str]:
    page = await client.get("/console/hotline")
    assert page.status_code == 200, page.text
    return form_of(page.text).values


async def test_an_operator_suggests_corrects_and_files(gateway: Gateway) -> None:
    wang = await operator(gateway)
    queue = await wang.get("/console/queue")
    assert 'href="/console/hotline"' in queue.text  # in the nav for operators
    form = await blank_form(wang)
    assert form["call_id"].startswith("console-") and form["caller"] == ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d", form["ended_at"])
    assert form["started_at"] < form["ended_at"]

    form |= {"caller": "139 1234 5678", "transcript": CALL, "sms_consent": "on"}
    suggested = await wang.post("/console/hotline/suggest", data=form)
    assert suggested.status_code == 200, suggested.text
    assert 'data-testid="suggestion" data-category="transport"' in suggested.text
    assert 'data-testid="suggested-confidence"' in suggested.text
    shown = form_of(suggested.text).values
    assert (shown["category"], shown["department"]) == ("transport", "transport")
    assert shown["transcript"] == CALL and shown["call_id"] == form["call_id"]
    assert shown["sms_consent"] == "on" and shown["caller"] == "139 1234 5678"
    assert "交通运输" in suggested.text  # category names in the UI language

    # The operator corrects the category (the department follows it), and files.
    filed = await wang.post(
        "/console/hotline", data=shown | {"category": "politics_law", "department": ""}
    )
    assert filed.status_code == 201, filed.text
    found = NUMBER.search(filed.text)
    assert found, filed.text
    number = found.group(1)
    assert f'href="/console/cases/{number}"' in filed.text
    assert 'data-receipt="hotline_receipt_queued"' in filed.text

    boss = await gateway.staff("boss")
    case = (await boss.get(f"/api/v1/cases/{number}")).json()
    assert (case["channel"], case["category"], case["department"]) == (
        "hotline",
        "politics_law",
        "public_security",
    )
    page = await wang.get(f"/console/cases/{number}")
    assert f"来电人：{BUS}" in page.text and "话务员：您好，12345热线。" in page.text
    # The operator's category differs from the NLU's: it becomes training data.
    examples = load_examples(corrections_path(gateway.services.settings.var_dir))
    assert [(e.intent, BUS in e.text) for e in examples] == [("politics_law", True)]


async def test_the_same_call_id_files_one_case(gateway: Gateway) -> None:
    wang = await operator(gateway)
    form = await blank_form(wang) | {"caller": "13912345678", "transcript": BUS}
    first = await wang.post("/console/hotline", data=form)
    again = await wang.post("/console/hotline", data=form)
    assert (first.status_code, again.status_code) == (201, 200)
    first_number, again_number = NUMBER.search(first.text), NUMBER.search(again.text)
    assert first_number and again_number
    assert first_number.group(1) == again_number.group(1)
    assert 'data-testid="filed-again"' in again.text
    assert 'data-receipt="hotline_no_consent"' in first.text
    assert await cases_filed(gateway) == 1
    # A new form is a new call.
    other = await wang.post(
        "/console/hotline",
        data=await blank_form(wang) | {"caller": "13912345678", "transcript": BUS},
    )
    other_number = NUMBER.search(other.text)
    assert other.status_code == 201 and other_number
    assert other_number.group(1) != first_number.group(1)


async def test_clerks_may_not_file_calls(gateway: Gateway) -> None:
    clerk = await console(gateway, "li")
    queue = await clerk.get("/console/queue")
    assert 'href="/console/hotline"' not in queue.text
    assert (await clerk.get("/console/hotline")).status_code == 403
    csrf = form_of(queue.text).values["csrf"]
    fields = {"csrf": csrf, "caller": "13912345678", "transcript": BUS, "call_id": "x1"}
    assert (await clerk.post("/console/hotline", data=fields)).status_code == 403
    assert (await clerk.post("/console/hotline/suggest", data=fields)).status_code == 403
    # Supervisors may.
    boss = await console(gateway, "boss")
    assert (await boss.get("/console/hotline")).status_code == 200
    # And the form needs the session's CSRF token like every other.
    wang = await operator(gateway)
    form = await blank_form(wang) | {"caller": "13912345678", "transcript": BUS}
    assert (await wang.post("/console/hotline", data=form | {"csrf": "forged"})).status_code == 403


async def test_errors_keep_what_was_typed(gateway: Gateway) -> None:
    wang = await operator(gateway)
    form = await blank_form(wang) | {
        "caller": "12ab",
        "transcript": CALL,
        "category": "transport",
        "urgent": "1",
        "sms_consent": "on",
    }
    refused = await wang.post("/console/hotline", data=form)
    assert refused.status_code == 422
    assert 'data-testid="form-error"' in refused.text
    assert 'data-testid="error-caller"' in refused.text and "来电号码无效" in refused.text
    page = form_of(refused.text)
    assert page.errors == {"caller"}
    kept = {k: v for k, v in page.values.items() if k != "csrf"}
    assert kept == {k: v for k, v in form.items() if k != "csrf"}

    # Times: unreadable, or an end before the start; a transcript with no words of the caller.
    bad = form | {
        "caller": "13912345678",
        "started_at": "2026-11-27T10:00",
        "ended_at": "2026-11-27T09:00",
        "transcript": "话务员：您好，12345热线。",
    }
    refused = await wang.post("/console/hotline", data=bad)
    assert refused.status_code == 422
    assert form_of(refused.text).errors == {"ended_at", "transcript"}
    assert "结束时间早于开始时间" in refused.text
    assert "通话记录中没有来电人的诉求" in refused.text
    refused = await wang.post("/console/hotline", data=bad | {"started_at": "yesterday"})
    assert form_of(refused.text).errors == {"started_at", "transcript"}
    nothing = await wang.post("/console/hotline/suggest", data=bad | {"transcript": "  "})
    assert nothing.status_code == 422 and 'data-testid="error-transcript"' in nothing.text

    # In English, the messages are too.
    await wang.get("/console/lang?to=en&next=/console/hotline")
    refused = await wang.post("/console/hotline", data=form)
    assert "That is not a valid phone number." in refused.text

    assert await cases_filed(gateway) == 0


async def test_a_transcript_with_a_script_is_shown_as_text(gateway: Gateway) -> None:
    wang = await operator(gateway)
    scripted = '和平路小区电梯坏了三天 <script>alert("x")</script> 物业不管 "quoted"'
    form = await blank_form(wang) | {"caller": "13912345678", "transcript": scripted}
    suggested = await wang.post("/console/hotline/suggest", data=form)
    assert suggested.status_code == 200
    assert "<script>alert" not in suggested.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in suggested.text
    assert form_of(suggested.text).values["transcript"] == scripted
    refused = await wang.post("/console/hotline", data=form | {"caller": '"><script>x</script>'})
    assert refused.status_code == 422 and "<script>x" not in refused.text
    filed = await wang.post("/console/hotline", data=form_of(suggested.text).values)
    found = NUMBER.search(filed.text)
    assert filed.status_code == 201 and found
    page = await wang.get(f"/console/cases/{found.group(1)}")
    assert "<script>alert" not in page.text and "&lt;script&gt;alert" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
