"""HTTP endpoints of the SMS channel (see ``civicline.channels.sms``): Twilio's webhooks."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response

from civicline.channels import sms
from civicline.domain.messages import Channel
from civicline.gateway.bounds import RowId
from civicline.gateway.webhooks.twilio import TWIML, signed_params
from civicline.handlers.delivery import record_receipt
from civicline.handlers.intake import accept

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks/twilio", tags=["sms"])


@router.post("/sms")
async def inbound_sms(request: Request) -> Response:
    """An SMS or MMS from a citizen. The answer is an empty TwiML document: the case number
    goes out as its own message through the REST API, tracked like every reply."""
    services, params = await signed_params(request)
    message = sms.to_inbound(
        params, now=services.now(), default_region=services.settings.sms_default_region
    )
    await accept(message, inbox=services.inbox, queue=services.queue)
    return Response(sms.TWIML_EMPTY, media_type=TWIML)


@router.post("/status", status_code=204)
async def delivery_status(request: Request, outbound_id: RowId) -> Response:
    """Twilio's StatusCallback for a message we sent: moves its outbox row."""
    services, params = await signed_params(request)
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
