"""What Twilio's webhooks share (SMS, its status callbacks, the voice line): the signature check,
so every Twilio route accepts and refuses exactly the same requests, and TwiML's media type."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request

from civicline.channels import twilio_api
from civicline.domain.text import storable
from civicline.gateway.bootstrap import Services

log = logging.getLogger(__name__)
TWIML = "application/xml"


async def signed_params(request: Request) -> tuple[Services, dict[str, str]]:
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
