"""What other systems call: Twilio (SMS, delivery status, the voice line), Telegram, and the
Open311 GeoReport v2 API for city apps (with its own error format: ``open311.install``)."""

from __future__ import annotations

from fastapi import APIRouter

from civicline.gateway.webhooks import open311, sms, telegram, voice

router = APIRouter()
for module in (sms, voice, telegram):
    router.include_router(module.router)

install_open311 = open311.install
