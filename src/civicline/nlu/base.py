"""The classifier port: what every NLU engine (local, Rasa) answers for a piece of text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Small talk: a polite answer, never a case.
SMALL_TALK_INTENTS = frozenset({"greet", "thanks", "out_of_scope"})
# Requests about the service or an existing case: answered, never a new case.
SERVICE_INTENTS = frozenset({"status_query", "help", "feedback"})
CONVERSATION_INTENTS = SMALL_TALK_INTENTS | SERVICE_INTENTS

MAX_RANKING = 5


@dataclass(frozen=True, slots=True)
class Entity:
    """Something found in the text: ``kind`` is case_number, phone, place or time."""

    kind: str
    value: str
    start: int
    end: int
    source: str = "pattern"  # pattern, gazetteer, or the engine that extracted it


@dataclass(frozen=True, slots=True)
class Classification:
    intent: str
    confidence: float
    ranking: tuple[tuple[str, float], ...]
    engine: str
    entities: tuple[Entity, ...] = ()

    @property
    def is_conversation(self) -> bool:
        return self.intent in CONVERSATION_INTENTS


class Classifier(Protocol):
    engine: str

    async def classify(self, text: str) -> Classification: ...
