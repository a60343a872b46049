"""HTTP endpoints of the web chat channel (see ``civicline.channels.webchat``)."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from redis.exceptions import RedisError

from civicline.channels import webchat
from civicline.domain.messages import Channel, DeliveryStatus
from civicline.gateway.bootstrap import Services
from civicline.gateway.deps import ServicesDep
from civicline.handlers.delivery import record_receipt
from civicline.handlers.inbox import receive
from civicline.handlers.sweep import PROCESS_INBOUND

log = logging.getLogger(__name__)
templates = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")
router = APIRouter()
CONVERSATION_LIMIT = 200


def _conversation(request: Request, response: Response | None = None) -> str:
    value = request.cookies.get(webchat.COOKIE)
    if webchat.valid_conversation_id(value):
        assert value is not None
        return value
    if response is None:
        raise HTTPException(404, "no conversation yet: open the chat page first")
    value = webchat.new_conversation_id()
    response.set_cookie(
        webchat.COOKIE,
        value,
        max_age=180 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return value


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def chat_page(request: Request, lang: str = "zh") -> Response:
    response = templates.TemplateResponse(
        request,
        "webchat.html",
        {"lang": "en" if lang == "en" else "zh", "static_url": "/static"},
    )
    _conversation(request, response)
    return response


@router.post(
    "/api/v1/webchat/messages", status_code=202, response_model=webchat.ChatMessageAccepted
)
async def post_message(
    payload: webchat.ChatMessageIn, request: Request, response: Response
) -> webchat.ChatMessageAccepted:
    # The hot path: read the services directly, skipping FastAPI's dependency solving.
    services: Services = request.app.state.services
    text = payload.text.strip()
    if not text:
        raise HTTPException(422, "the message is empty")
    limit = services.settings.webchat_max_length
    if len(text) > limit:
        raise HTTPException(422, f"the message is longer than {limit} characters")
    conversation = _conversation(request, response)
    try:
        if not await services.webchat_limiter.hit(conversation):
            raise HTTPException(429, "too many messages: please wait a minute")
    except (RedisError, OSError) as exc:
        log.warning("rate limit unavailable", extra={"error": type(exc).__name__})
    message, created = await receive(
        webchat.to_inbound(conversation, payload, now=services.now()), inbox=services.inbox
    )
    assert message.id is not None
    if created:
        try:
            await services.queue.enqueue(PROCESS_INBOUND, message.id)
        except (RedisError, OSError):
            # Stored is enough: the sweeper queues it once Redis is back.
            log.warning("queue unavailable; left for the sweeper", extra={"inbound_id": message.id})
    else:
        response.status_code = 200
    return webchat.ChatMessageAccepted(message_id=message.id, duplicate=not created)


@router.get("/api/v1/webchat/messages", response_model=webchat.Conversation)
async def get_conversation(request: Request, services: ServicesDep) -> webchat.Conversation:
    conversation = _conversation(request)
    async with services.uow() as uow:
        inbound = await uow.inbox.conversation(
            Channel.WEBCHAT, conversation, limit=CONVERSATION_LIMIT
        )
        outbound = await uow.outbox.conversation(
            Channel.WEBCHAT, conversation, limit=CONVERSATION_LIMIT
        )
        case_ids = {m.case_id for m in inbound if m.case_id} | {
            m.case_id for m in outbound if m.case_id
        }
        numbers = await uow.cases.numbers_by_id(case_ids)
    return webchat.conversation_view(inbound, outbound, numbers)


@router.post("/api/v1/webchat/receipts", status_code=204)
async def post_receipts(payload: webchat.Receipts, request: Request, services: ServicesDep) -> None:
    conversation = _conversation(request)
    for outbound_id in payload.ids:
        await record_receipt(
            outbound_id,
            DeliveryStatus.DELIVERED,
            uow=services.uow(),
            now=services.now(),
            channel=Channel.WEBCHAT,
            recipient=conversation,
        )
