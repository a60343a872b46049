"""Another engine routes complaints behind the local classifier's gate.

The local classifier decides first whether a text is a complaint at all (its gate, with its
own examples and threshold) and answers what is not one itself. For a complaint, the router
(the Rasa server, behind its local fallback) names the category; the sub-category within it
comes from the local model, which learns them. A router that calls a complaint small talk is
overruled: its best category is kept with its own (low) confidence, so the case opens and goes
to triage rather than being turned away.
"""

from __future__ import annotations

import asyncio

from civicline.nlu.base import CONVERSATION_INTENTS, Classification, Classifier
from civicline.nlu.local import LocalClassifier


class GatedClassifier:
    def __init__(self, gate: LocalClassifier, router: Classifier) -> None:
        self.gate = gate
        self.router = router
        self.engine = router.engine

    async def classify(self, text: str) -> Classification:
        local = await asyncio.to_thread(self.gate.classify_sync, text)
        if local.intent in CONVERSATION_INTENTS:
            return local
        routed = await self.router.classify(text)
        if routed.engine == local.engine:  # the router's own fallback answered
            return local
        return combine(local, routed, self.gate, text)


def combine(
    local: Classification, routed: Classification, gate: LocalClassifier | None, text: str
) -> Classification:
    """The router's category (its best one, small talk left out) with the gate's probability
    and the local sub-category of that category (None when ``gate`` is None and the local
    model chose another category)."""
    ranking = tuple((i, c) for i, c in routed.ranking if i not in CONVERSATION_INTENTS)
    if not ranking:
        ranking = tuple((i, 0.0) for i, _ in local.ranking)
    intent, confidence = ranking[0]
    if intent == local.intent:
        subcategory = local.subcategory
    else:
        subcategory = gate.subcategory_of(text, intent) if gate is not None else None
    return Classification(
        intent=intent,
        confidence=confidence,
        ranking=ranking,
        engine=routed.engine,
        entities=routed.entities,
        complaint=local.complaint,
        subcategory=subcategory,
    )
