"""The web chat's JSON endpoints, called by its page (``pages/webchat.py``): post a message,
read the conversation, confirm what was shown (see ``civicline.channels.webchat``)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request, Response
from redis.exceptions import RedisError

from civicline.channels import webchat
from civicline.domain.messages import Channel, DeliveryStatus
from civicline.gateway.bootstrap import Services
from civicline.gateway.deps import ServicesDep
from civicline.gateway.pages.webchat import conversation_of
from civicline.handlers.delivery import record_receipt
from civicline.handlers.intake import accept

log = logging.getLogger(__name__)
router = APIRouter(tags=["webchat"])
CONVERSATION_LIMIT = 200


@router.post("/webchat/messages", status_code=202, response_model=webchat.ChatMessageAccepted)
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
    conversation = conversation_of(request, response)
    try:
        if not await services.webchat_limiter.hit(conversation):
            raise HTTPException(429, "too many messages: please wait a minute")
    except (RedisError, OSError) as exc:
        log.warning("rate limit unavailable", extra={"error": type(exc).__name__})
    accepted = await accept(
        webchat.to_inbound(conversation, payload, now=services.now()),
        inbox=services.inbox,
        queue=services.queue,
    )
    if not accepted.created:
        response.status_code = 200
    return webchat.ChatMessageAccepted(message_id=accepted.id, duplicate=not accepted.created)


@router.get("/webchat/messages", response_model=webchat.Conversation)
async def get_conversation(request: Request, services: ServicesDep) -> webchat.Conversation:
    conversation = conversation_of(request)
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


@router.post("/webchat/receipts", status_code=204)
async def post_receipts(payload: webchat.Receipts, request: Request, services: ServicesDep) -> None:
    conversation = conversation_of(request)
    for outbound_id in payload.ids:
        await record_receipt(
            outbound_id,
            DeliveryStatus.DELIVERED,
            uow=services.uow(),
            now=services.now(),
            channel=Channel.WEBCHAT,
            recipient=conversation,
        )
