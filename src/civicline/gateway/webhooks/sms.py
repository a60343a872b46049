"""HTTP endpoints of the SMS channel (see ``civicline.channels.sms``): Twilio's webhooks."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from starlette.types import ASGIApp, Scope

from civicline.channels import sms, twilio_api
from civicline.domain.errors import InvalidInput
from civicline.domain.messages import Channel
from civicline.domain.text import storable
from civicline.gateway.bootstrap import Services
from civicline.gateway.bounds import RowId
from civicline.gateway.lanes import FastLane, header
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


class TwilioSmsFastLane(FastLane):
    """``POST /webhooks/twilio/sms`` in a fast lane (``gateway/lanes.py``): the same steps as
    ``inbound_sms`` for the usual message (SMS on, no query string, a UTF-8 form signed over
    the public URL, a message ``sms.to_inbound`` takes), answered with the same TwiML.
    Anything else reaches ``inbound_sms``, which refuses it (and logs a bad signature)."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, router.prefix + "/sms", _answer)


async def _answer(scope: Scope, body: bytes) -> Response | None:
    services: Services = scope["app"].state.services
    settings = services.settings
    token = settings.twilio_auth_token
    signature = header(scope, b"x-twilio-signature")
    if not settings.sms_enabled or token is None or signature is None or scope["query_string"]:
        return None
    try:
        params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return None
    url = twilio_api.public_url(settings.public_base_url, scope["path"], "")
    if not twilio_api.verify_signature(
        token.get_secret_value(), url, params, signature.decode("latin-1")
    ):
        return None
    try:
        message = sms.to_inbound(
            {name: storable(value) for name, value in params.items()},
            now=services.now(),
            default_region=settings.sms_default_region,
        )
    except InvalidInput:
        return None
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
