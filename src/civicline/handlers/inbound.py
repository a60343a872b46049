"""One stored inbound message, processed once, by whoever its channel's kind names.

The worker's ``process_inbound`` job lands here. A conversation (web chat, SMS, Telegram) goes
to the bot (``bots.dialogue``), a hotline transcript to ``handlers.hotline``, an Open311
service request to ``handlers.open311``. Who processes which kind is registered by the
composition root (``gateway.bootstrap.inbound_router``): a new channel registers itself here
instead of editing a router, and this layer never imports the bots above it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from civicline.domain.messages import ChannelKind, InboundMessage, InboundStatus, kind_of
from civicline.storage.base import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class Handled:
    outbound_ids: list[int]  # replies to deliver
    case_number: str | None = None
    already_done: bool = False
    opened: list[str] = field(default_factory=list)  # every case this message opened


Processor = Callable[[InboundMessage, datetime], Awaitable[Handled]]
"""Processes one stored message, given as it was read (still ``received``)."""


class Inbound:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self.uow_factory = uow_factory
        self._processors: dict[ChannelKind, Processor] = {}

    def register(self, kind: ChannelKind, processor: Processor) -> Inbound:
        self._processors[kind] = processor
        return self

    async def handle(self, message_id: int, *, now: datetime) -> Handled:
        """Process one stored inbound message exactly once (a second run finds it processed)."""
        async with self.uow_factory() as uow:
            message = await uow.inbox.get(message_id)
        if message.status != InboundStatus.RECEIVED:
            return Handled([], already_done=True)
        processor = self._processors.get(kind_of(message.channel))
        return await (processor or self._processors[ChannelKind.CONVERSATION])(message, now)
