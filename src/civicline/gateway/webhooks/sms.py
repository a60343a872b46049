"""HTTP endpoints of the SMS channel (see ``civicline.channels.sms``): Twilio's webhooks."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response
from redis.exceptions import RedisError

from civicline.channels import sms, twilio_api
from civicline.domain.messages import Channel
from civicline.domain.text import storable
from civicline.gateway.bootstrap import Services
from civicline.handlers.delivery import record_receipt
from civicline.handlers.inbox import receive
from civicline.handlers.sweep import PROCESS_INBOUND

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks/twilio", tags=["sms"])
TWIML = "application/xml"


async def _signed_params(request: Request) -> tuple[Services, dict[str, str]]:
    """The posted form, once its X-Twilio-Signature checks out against the public URL."""
    services: Services = request.app.state.services
    settings = services.settings
    if not settings.sms_enabled or settings.twilio_auth_token is None:
        raise HTTPException(404, "SMS is not enabled")
    try:
        params = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise HTTPException(400, "the form is not UTF-8") from None
    url = twilio_api.public_url(settings.public_base_url, request.url.path, request.url.query)
    signature = request.headers.get("X-Twilio-Signature")
    if not twilio_api.verify_signature(
        settings.twilio_auth_token.get_secret_value(), url, params, signature
    ):
        log.warning("twilio signature rejected", extra={"path": request.url.path})
        raise HTTPException(403, "invalid or missing X-Twilio-Signature")
    # Signed as sent; stored without what no database can store (refusing would lose it).
    return services, {name: storable(value) for name, value in params.items()}


@router.post("/sms")
async def inbound_sms(request: Request) -> Response:
    """An SMS or MMS from a citizen. The answer is an empty TwiML document: the case number
    goes out as its own message through the REST API, tracked like every reply."""
    services, params = await _signed_params(request)
    message = sms.to_inbound(
        params, now=services.now(), default_region=services.settings.sms_default_region
    )
    stored, created = await receive(message, inbox=services.inbox)
    assert stored.id is not None
    if created:
        try:
            await services.queue.enqueue(PROCESS_INBOUND, stored.id)
        except (RedisError, OSError):
            log.warning("queue unavailable; left for the sweeper", extra={"inbound_id": stored.id})
    return Response(sms.TWIML_EMPTY, media_type=TWIML)


@router.post("/status", status_code=204)
async def delivery_status(request: Request, outbound_id: int) -> Response:
    """Twilio's StatusCallback for a message we sent: moves its outbox row."""
    services, params = await _signed_params(request)
    receipt = sms.to_receipt(params)
    if receipt is not None:
        recipient = params.get("To")
        applied = await record_receipt(
            outbound_id,
            receipt.status,
            uow=services.uow(),
            now=services.now(),
            channel=Channel.SMS,
            recipient=sms.normalize_phone(recipient, services.settings.sms_default_region)
            if recipient
            else None,
            error=receipt.error,
        )
        log.info(
            "sms status",
            extra={"outbound_id": outbound_id, "status": receipt.status, "applied": applied},
        )
    return Response(status_code=204)
