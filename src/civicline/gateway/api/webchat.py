"""The web chat's JSON endpoints, called by its page (``pages/webchat.py``): post a message,
read the conversation, confirm what was shown (see ``civicline.channels.webchat``)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Scope

from civicline.channels import webchat
from civicline.domain.messages import Channel, DeliveryStatus
from civicline.gateway.bootstrap import Services
from civicline.gateway.deps import ServicesDep
from civicline.gateway.guard import looks_unstorable
from civicline.gateway.lanes import FastLane, header
from civicline.gateway.pages.webchat import conversation_of
from civicline.handlers.delivery import record_receipt
from civicline.handlers.intake import Accepted, accept_within

log = logging.getLogger(__name__)
router = APIRouter(tags=["webchat"])
CONVERSATION_LIMIT = 200


@router.post("/webchat/messages", status_code=202, response_model=webchat.ChatMessageAccepted)
async def post_message(
    payload: webchat.ChatMessageIn, request: Request, response: Response
) -> webchat.ChatMessageAccepted:
    # Most messages never get here: ``WebchatFastLane`` answers them first. This route answers
    # the others (a new conversation, bad input) and declares the endpoint.
    services: Services = request.app.state.services
    text = payload.text.strip()
    if not text:
        raise HTTPException(422, "the message is empty")
    limit = services.settings.webchat_max_length
    if len(text) > limit:
        raise HTTPException(422, f"the message is longer than {limit} characters")
    conversation = conversation_of(request, response)
    accepted = await take(services, conversation, payload)
    if accepted is None:
        raise HTTPException(429, TOO_MANY)
    if not accepted.created:
        response.status_code = 200
    return webchat.ChatMessageAccepted(message_id=accepted.id, duplicate=not accepted.created)


TOO_MANY = "too many messages: please wait a minute"


async def take(
    services: Services, conversation: str, payload: webchat.ChatMessageIn
) -> Accepted | None:
    """Count the hit, store and queue the message; None when the conversation is over its
    rate limit (nothing stored). When Redis is away the hit goes uncounted."""
    return await accept_within(
        webchat.to_inbound(conversation, payload, now=services.now()),
        services.webchat_limiter,
        conversation,
        inbox=services.inbox,
        queue=services.queue,
    )


class WebchatFastLane(FastLane):
    """``POST /api/v1/webchat/messages`` in a fast lane (``gateway/lanes.py``): the same steps
    as ``post_message`` for the usual message (JSON within the limits, an existing
    conversation), answered with the same bytes. Anything else (no or a bad cookie, a query
    string, another content type, text the edge refuses or might, a body the model refuses,
    empty or too long text) reaches ``post_message``."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        super().__init__(app, path, _answer)


async def _answer(scope: Scope, body: bytes) -> Response | None:
    payload, conversation = _usual(scope, body)
    if payload is None or conversation is None:
        return None
    accepted = await take(scope["app"].state.services, conversation, payload)
    if accepted is None:
        return JSONResponse({"detail": TOO_MANY}, 429)
    duplicate = b"false" if accepted.created else b"true"
    return Response(
        b'{"message_id":%d,"duplicate":%s}' % (accepted.id, duplicate),
        202 if accepted.created else 200,
        media_type="application/json",
    )


def _usual(scope: Scope, body: bytes) -> tuple[webchat.ChatMessageIn | None, str | None]:
    """The message and its conversation when the request is the usual kind, else Nones."""
    if scope["query_string"] or looks_unstorable(body):
        return None, None
    cookie = header(scope, b"cookie")
    if header(scope, b"content-type") != b"application/json" or cookie is None:
        return None, None
    conversation = cookie_parser(cookie.decode("latin-1")).get(webchat.COOKIE)
    if not webchat.valid_conversation_id(conversation):
        return None, None
    try:
        payload = webchat.ChatMessageIn.model_validate_json(body)
    except ValidationError:
        return None, None
    text = payload.text.strip()
    limit = scope["app"].state.services.settings.webchat_max_length
    if not text or len(text) > limit:
        return None, None
    return payload, conversation


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
