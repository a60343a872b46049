"""The baseline for bench/intake.py and bench/sms.py: bare FastAPI endpoints that do no work.

Run: ``uvicorn --app-dir bench bare_app:app --loop uvloop --http httptools --no-access-log``.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, Field

app = FastAPI()


class MessageIn(BaseModel):
    """Shaped like ``civicline.channels.webchat.ChatMessageIn``."""

    client_message_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    text: str
    language: Literal["zh", "en"] | None = None


class Accepted(BaseModel):
    message_id: int
    duplicate: bool


@app.get("/const")
async def const() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/echo", status_code=202)
async def echo(payload: MessageIn) -> Accepted:
    return Accepted(message_id=1, duplicate=False)


TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@app.post("/twilio/sms")
async def twilio_sms(request: Request) -> Response:
    """Shaped like the SMS webhook: parse Twilio's form (~20 fields) as it does, answer TwiML."""
    params = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
    if "MessageSid" not in params:
        return Response(status_code=400)
    return Response(TWIML_EMPTY, media_type="application/xml")
