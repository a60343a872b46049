"""No log record, at any level and on any error path, holds a citizen's words, phone number,
ID number or e-mail, a web chat cookie or a token.

One gateway with its worker, SMS over a fake Twilio, Telegram over a fake Bot API and a
failing Rasa in front of the local NLU. Recognisable values are planted, then the error paths
are driven: a batched insert the database refuses (in the gateway, for web chat and SMS), a
job whose statement the database refuses (in the worker), text no database can store, Twilio
and Telegram refusing to send, Rasa failing three ways, a failed sign-in. Every record of
every logger is kept, formatted with its traceback, stack and extras, and searched.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from civicline.domain.messages import Channel, InboundMessage
from civicline.gateway.logs import KeyValueFormatter
from civicline.storage.database import UnstorableText
from tests.e2e.test_incident_fan_out import both_channels
from tests.e2e.test_sms_flow import Sms
from tests.e2e.test_telegram_flow import Tg, as_chat, payload
from tests.fakes.rasa_server import FakeRasa, running_fake_rasa
from tests.fakes.telegram_api import running_fake_telegram
from tests.fakes.twilio_server import running_fake_twilio
from tests.support.gateway import Gateway, serving
from tests.support.places import Places
from tests.support.polling import eventually
from tests.support.ports import free_port

NAME = "隐私甲"
ID_NUMBER = "11010519491231002X"
PHONE = "13987654321"
EMAIL = "yinsi.jia@example.cn"
PLACE = "隐私路9号"  # the databases refuse texts with it while the test says so
TEXT = f"我叫{NAME}，身份证{ID_NUMBER}，电话{PHONE}，邮箱{EMAIL}，{PLACE}楼下的井盖丢了，很危险"
RASA_TOKEN = "rasa-token-planted-5f1e"
CHAT = 5987654321


class Records(logging.Handler):
    """Every record, formatted as the gateway's own handler would (traceback and stack
    included), with all its fields (args, extras, the exception object)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(KeyValueFormatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{self.format(record)}\n{vars(record)!r}")

    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class Stack:
    gateway: Gateway
    sms: Sms
    tg: Tg
    rasa: FakeRasa
    http: httpx.AsyncClient

    async def refused(self, table: str, column: str) -> None:
        """The database refuses rows of ``table`` whose ``column`` names the planted place."""
        async with self.gateway.services.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text(
                        f"ALTER TABLE {table} ADD CONSTRAINT planted "
                        f"CHECK (strpos({column}, '{PLACE}') = 0) NOT VALID"
                    )
                )
            else:
                await conn.execute(
                    text(
                        f"CREATE TRIGGER planted_{table} BEFORE INSERT ON {table} "
                        f"WHEN instr(NEW.{column}, '{PLACE}') > 0 "
                        "BEGIN SELECT RAISE(ABORT, 'planted refusal'); END"
                    )
                )

    async def accepted_again(self, table: str) -> None:
        async with self.gateway.services.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT planted"))
            else:
                await conn.execute(text(f"DROP TRIGGER planted_{table}"))


@pytest.fixture
async def stack(places: Places) -> AsyncIterator[Stack]:
    async with (
        running_fake_twilio() as twilio,
        running_fake_telegram() as telegram,
        running_fake_rasa(RASA_TOKEN) as rasa,
    ):
        port = free_port()
        async with (
            places.services(
                **both_channels(twilio, telegram, port),
                rasa_url=rasa.url,
                rasa_token=RASA_TOKEN,
                rasa_timeout_seconds=0.5,
                delivery_max_attempts=1,
            ) as services,
            serving(services, port) as gateway,
            httpx.AsyncClient(base_url=gateway.url, timeout=20) as http,
        ):
            yield Stack(
                gateway, Sms(gateway, twilio, http), Tg(gateway, telegram, http), rasa, http
            )


@pytest.fixture
def records(stack: Stack) -> Iterator[Records]:
    """Every logger's records: the root's, and those of loggers that do not pass theirs on
    (the fake servers' uvicorn configures its own that way)."""
    handler, root = Records(), logging.getLogger()
    loggers = [root] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    level = root.level
    root.setLevel(logging.DEBUG)
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)
    root.setLevel(level)


async def _post_chat(client: httpx.AsyncClient, words: str) -> httpx.Response:
    return await client.post(
        "/api/v1/webchat/messages", json={"client_message_id": uuid.uuid4().hex, "text": words}
    )


async def _all(*calls: Awaitable[Any]) -> list[Any]:
    return list(await asyncio.gather(*calls))


async def test_no_personal_data_or_secret_in_any_log_record(stack: Stack, records: Records) -> None:
    gateway, services = stack.gateway, stack.gateway.services
    boss = await gateway.staff("boss")
    bearer = boss.headers["Authorization"].removeprefix("Bearer ")
    citizens = [gateway.citizen() for _ in range(10)]
    await _all(*(c.get("/") for c in citizens))
    cookie = citizens[0].cookies["civicline_chat"]

    # 1. A batched insert the database refuses, in the gateway: the one post fails alone.
    await stack.refused("inbound_messages", "text")
    answers = await _all(
        _post_chat(citizens[0], TEXT), *(_post_chat(c, "解放路的路灯坏了") for c in citizens[1:])
    )
    assert [a.status_code for a in answers] == [500] + [202] * 9
    assert (await stack.sms.text(TEXT, f"+86{PHONE}")).status_code == 500
    await stack.accepted_again("inbound_messages")

    # 2. Rasa fails (an error page, then an answer that is no parse result, then silence),
    # and a statement the database refuses fails the worker's job.
    await stack.refused("cases", "summary")
    assert (await _post_chat(citizens[0], TEXT)).status_code == 202
    await eventually(lambda: _logged(records, "failed"))
    classifier = services.classifier
    for mode in ("garbage", "slow"):
        stack.rasa.mode = mode
        classifier._retry_at = None  # type: ignore[attr-defined]
        await classifier.classify(TEXT)
    await stack.accepted_again("cases")

    # 3. Twilio and Telegram refuse to send (their error texts quote the number or the chat).
    stack.sms.fake.fail_next(
        400, code=21211, message=f"The 'To' number +86{PHONE} is not a valid phone number."
    )
    assert (await stack.sms.text(TEXT, f"+86{PHONE}")).status_code == 200
    stack.tg.fake.block(CHAT)
    assert (
        await stack.tg.post(as_chat(payload("message_zh.json"), CHAT, text=TEXT))
    ).status_code == 200
    await eventually(lambda: _failed_sends(gateway, 2))

    # 4. Text no database can store, written behind the edge's back.
    poisoned = InboundMessage(
        channel=Channel.WEBCHAT,
        provider_message_id="poisoned",
        sender_address=cookie,
        text=TEXT + "\ud800",
        received_at=services.now(),
    )
    with pytest.raises(UnstorableText) as refused:
        await services.inbox.add(poisoned)
    logging.getLogger("civicline.test").error("unstorable", exc_info=refused.value)
    with pytest.raises(UnstorableText) as refused_nul:
        await services.inbox.add(replace(poisoned, text=TEXT + "\x00"))
    logging.getLogger("civicline.test").error("unstorable", exc_info=refused_nul.value)

    # 5. A visit registered with the visitor's name, ID number and phone: refused by the
    # database once (a 500 with its traceback), then registered, and an appointment booked.
    visit = {
        "register_id": "desk-privacy",
        "unit": "341800",
        "matter": TEXT,
        "outcome": "accepted",
        "visitors": [{"name": NAME, "id_number": ID_NUMBER, "phone": PHONE}],
    }
    await stack.refused("visits", "matter")
    assert (await boss.post("/api/v1/visits", json=visit)).status_code == 500
    await stack.accepted_again("visits")
    assert (await boss.post("/api/v1/visits", json=visit)).status_code == 201
    looked_up = await boss.get("/api/v1/visits/lookup", params={"id_number": ID_NUMBER})
    assert looked_up.status_code == 200
    booking = {"unit": "341800", "day": "2026-01-01", "brief": TEXT[:200], "phone": PHONE}
    assert (await boss.post("/api/v1/visits/appointments", json=booking)).status_code == 422

    # 6. Signing in with someone's e-mail and phone number as name and password.
    wrong = await stack.http.post(
        "/api/v1/auth/token", json={"username": EMAIL, "password": f"pw{PHONE}"}
    )
    assert wrong.status_code == 401

    logged = records.text()
    # The error paths were taken and logged (with their tracebacks) ...
    assert "Exception in ASGI application" in logged and "Traceback" in logged
    assert "NLU engine rasa failed" in logged and "outbound send failed" in logged
    # ... and nothing personal or secret is in any of it.
    secrets = {
        "text": PLACE,
        "name": NAME,
        "ID number": ID_NUMBER,
        "phone": PHONE,
        "e-mail": EMAIL,
        "web chat cookie": cookie,
        "staff bearer token": bearer,
        "Rasa token": RASA_TOKEN,
        "Telegram token": stack.tg.fake.token.split(":")[1],
        "Twilio auth token": stack.sms.fake.auth_token,
    }
    leaked = {what: _around(logged, value) for what, value in secrets.items() if value in logged}
    assert not leaked, leaked
    await _all(*(c.aclose() for c in citizens))


def _around(logged: str, value: str) -> str:
    at = logged.index(value)
    return logged[max(0, at - 300) : at + 100]


async def _logged(records: Records, word: str) -> bool:
    return any("process_inbound" in line and word in line for line in records.lines)


async def _failed_sends(gateway: Gateway, count: int) -> bool:
    async with gateway.services.engine.connect() as conn:
        failed = await conn.scalar(
            text("SELECT count(*) FROM outbound_messages WHERE status = 'failed'")
        )
    return bool(failed and failed >= count)


def test_an_unstorable_text_error_does_not_quote_the_text() -> None:
    exc = UnstorableText("a bound string contains a NUL character at position 3")
    assert TEXT not in "".join(traceback.format_exception(exc))
