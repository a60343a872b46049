"""The baseline for bench/intake.py: bare FastAPI endpoints that do no work.

Run: ``uvicorn --app-dir bench bare_app:app --loop uvloop --http httptools --no-access-log``.
"""

from __future__ import annotations

from typing import Literal

from fastapi import FastAPI
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
