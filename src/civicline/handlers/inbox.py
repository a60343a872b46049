"""Intake: store an inbound message once, so the webhook can answer at once."""

from __future__ import annotations

from civicline.domain.messages import InboundMessage
from civicline.storage.base import UnitOfWork


async def receive(message: InboundMessage, *, uow: UnitOfWork) -> tuple[InboundMessage, bool]:
    """Persist ``message`` unless its provider id was seen; returns it and whether it is new."""
    async with uow:
        stored, created = await uow.inbox.add(message)
        if created:
            await uow.commit()
        return stored, created
