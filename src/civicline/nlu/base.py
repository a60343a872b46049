"""The classifier port: what every NLU engine (local, Rasa) answers for a piece of text."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

# Small talk: a polite answer, never a case.
OUT_OF_SCOPE = "out_of_scope"
SMALL_TALK_INTENTS = frozenset({"greet", "thanks", OUT_OF_SCOPE})
# Requests about the service or an existing case: answered, never a new case.
SERVICE_INTENTS = frozenset({"status_query", "help", "feedback"})
CONVERSATION_INTENTS = SMALL_TALK_INTENTS | SERVICE_INTENTS

MAX_RANKING = 5

MAX_CHARS = 1000
"""Engines read only the start of a longer text: the title and first paragraphs say what it is
about, and the cost of reading one stays bounded."""


RASA_MAX_CHARS = 240
"""Rasa reads less: DIET's cost grows with the number of tokens it embeds, and the title and
first sentences carry the matter (a median complaint is about 240 characters)."""


def bounded(text: str, limit: int = MAX_CHARS) -> str:
    return text[:limit]


@dataclass(frozen=True, slots=True)
class Entity:
    """Something found in the text: ``kind`` is case_number, phone, place or time."""

    kind: str
    value: str
    start: int
    end: int
    source: str = "pattern"  # pattern, gazetteer, or the engine that extracted it
    unit: str | None = None
    """For a gazetteer place: the code of the unit (units.yml) it is or lies in."""


@dataclass(frozen=True, slots=True)
class Classification:
    intent: str
    confidence: float
    ranking: tuple[tuple[str, float], ...]
    engine: str
    entities: tuple[Entity, ...] = ()
    complaint: float | None = None
    """The gate's probability that the text is a complaint or request to the government; None
    from an engine without a gate. With a gate, ``intent`` is a category exactly when it passed."""
    subcategory: str | None = None
    """The sub-category of ``intent`` the engine read, when it reads them."""

    @property
    def is_conversation(self) -> bool:
        return self.intent in CONVERSATION_INTENTS

    @property
    def gated(self) -> bool:
        """The gate decided this was not a complaint: no case unless it is urgent."""
        return self.complaint is not None and self.intent in CONVERSATION_INTENTS


def opens_case(classification: Classification, *, min_confidence: float, urgent: bool) -> bool:
    """Whether the gateway opens a case for this reading (``bots.answers``): always when urgent;
    never for small talk or what the gate turned away; for a service request (status, help,
    feedback), only when the engine is unsure of it and has no gate; otherwise always."""
    if urgent:
        return True
    if classification.intent in SMALL_TALK_INTENTS or classification.gated:
        return False
    if classification.intent in SERVICE_INTENTS:
        return classification.confidence < min_confidence
    return True


def routed_category(
    classification: Classification, categories: Collection[str], *, min_confidence: float
) -> str | None:
    """The category a case is routed by, or None for triage (``handlers.cases.open_case``)."""
    if classification.intent in categories and classification.confidence >= min_confidence:
        return classification.intent
    return None


class Classifier(Protocol):
    engine: str

    async def classify(self, text: str) -> Classification: ...
