"""A guided conversation in progress: a complaint the bot is still asking questions about.

On channels with buttons (Telegram) the bot does not open a case at the first message: it asks
where it happened when the text names no place, then asks the citizen to confirm the category.
Until then the complaint waits here, one per contact handle. Nothing is lost: a dialogue the
citizen abandons is opened as a case on the NLU's reading when it expires.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from civicline.domain.citizens import ContactHandle

# How long the bot waits for an answer before it opens the case on what it has.
DIALOGUE_TIMEOUT = timedelta(minutes=30)


class Stage(enum.StrEnum):
    PLACE = "place"  # asked where it happened
    CATEGORY = "category"  # asked to confirm the category
    COMMENT = "comment"  # a case was rated: the next words are the rating's comment


@dataclass(slots=True)
class Dialogue:
    handle: ContactHandle
    stage: Stage
    message_id: int  # the inbound message that holds the complaint (or the rating)
    updated_at: datetime
    # What the NLU said (intent, confidence, ranking, engine) and what the citizen added
    # (place, location, attachment message ids, the rated case's number).
    data: dict[str, Any] = field(default_factory=dict)

    def expires_at(self) -> datetime:
        return self.updated_at + DIALOGUE_TIMEOUT

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at()
