"""What other systems call: Twilio (SMS, delivery status, the voice line), Telegram, and the
Open311 GeoReport v2 API for city apps (with its own error format: ``open311.install``)."""

from __future__ import annotations

from fastapi import APIRouter

from civicline.gateway.errors import problems
from civicline.gateway.webhooks import open311, sms, telegram, voice

router = APIRouter()
for module in (sms, voice, telegram):
    # Off (404), unsigned or wrongly signed (401, 403), Telegram's outage answer (503).
    router.include_router(module.router, responses=problems(401, 403, 404))

install_open311 = open311.install
