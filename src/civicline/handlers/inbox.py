"""Intake: store an inbound message once, so the webhook can answer at once."""

from __future__ import annotations

from civicline.domain.messages import InboundMessage
from civicline.storage.base import InboxWriter


async def receive(message: InboundMessage, *, inbox: InboxWriter) -> tuple[InboundMessage, bool]:
    """Persist ``message`` unless its provider id was seen; returns it and whether it is new."""
    return await inbox.add(message)
