"""The worker's processing of one stored message and the return visit's question, wired as the
gateway wires them (``gateway.bootstrap.inbound_router``, the bot's follow-up texts)."""

from __future__ import annotations

from datetime import datetime

from civicline.bots.dialogue import FOLLOWUP_TEXTS, Conversation
from civicline.gateway.bootstrap import inbound_router
from civicline.handlers import followup
from civicline.handlers.inbound import Handled
from civicline.storage.base import UnitOfWorkFactory


async def handle_inbound(
    message_id: int, *, uow_factory: UnitOfWorkFactory, conversation: Conversation, now: datetime
) -> Handled:
    return await inbound_router(uow_factory, conversation).handle(message_id, now=now)


async def ask_for_rating(
    number: str, *, uow_factory: UnitOfWorkFactory, now: datetime
) -> int | None:
    return await followup.ask_for_rating(
        number, uow_factory=uow_factory, now=now, texts=FOLLOWUP_TEXTS
    )
