"""Ports the handlers use besides storage and NLU: the senders that channels implement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from civicline.domain.messages import Channel, DeliveryStatus, OutboundMessage


@dataclass(frozen=True, slots=True)
class SendResult:
    status: DeliveryStatus  # SENT, or DELIVERED when the channel confirms at once
    provider_message_id: str | None = None


class SendError(Exception):
    """A send that did not go through. Permanent errors are not retried."""

    def __init__(self, reason: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


class Sender(Protocol):
    channel: Channel

    async def send(self, message: OutboundMessage) -> SendResult: ...
