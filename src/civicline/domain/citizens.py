"""Citizens and the handles they reach us by: one person, several channels."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from civicline.domain.messages import Channel, Language


@dataclass(frozen=True, slots=True)
class ContactHandle:
    """An address on one channel: a chat id, an E.164 phone number, a web chat conversation."""

    channel: Channel
    address: str


@dataclass(slots=True)
class Citizen:
    created_at: datetime
    language: Language = Language.ZH
    display_name: str | None = None
    handles: list[ContactHandle] = field(default_factory=list)
    id: int | None = None

    def handle_on(self, channel: Channel) -> ContactHandle | None:
        return next((h for h in self.handles if h.channel == channel), None)
