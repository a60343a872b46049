"""Incidents: many reports of one event become one case.

When a water main bursts, fifty people report it on five channels. Staff should see one
incident with fifty reporters, answer it once, and the rates should count it once. A new case
joins an open case from the recent window when

* its words nearly repeat the other's (character trigram Jaccard at least ``duplicate``)
  and they do not name two different districts, or
* both report an area-wide kind of event (an outage affects a whole neighbourhood: every
  report of it in the district is the same event) in the same district, whatever category
  the NLU gave each, or
* it has the same category and sub-category in the same district, and the two name the same
  place or their words are similar (at least ``similar``).

The joined case is merged into the first report (the lead), which counts its reporters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class IncidentPolicy:
    window: timedelta = timedelta(hours=6)
    duplicate: float = 0.6  # near-identical words: one event whatever the category
    similar: float = 0.3  # similar words, same category and district
    area_wide: frozenset[str] = field(
        default_factory=lambda: frozenset({"water_supply", "heating_gas"})
    )


@dataclass(frozen=True, slots=True)
class Report:
    """What the comparison needs of a case."""

    number: str
    text: str
    created_at: datetime
    category: str | None
    subcategory: str | None
    district: str | None
    place: str | None


def trigrams(text: str) -> frozenset[str]:
    plain = _NOISE.sub("", unicodedata.normalize("NFKC", text).casefold())
    if len(plain) < 3:
        return frozenset({plain}) if plain else frozenset()
    return frozenset(plain[i : i + 3] for i in range(len(plain) - 2))


def similarity(a: str, b: str) -> float:
    left, right = trigrams(a), trigrams(b)
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def same_incident(new: Report, old: Report, policy: IncidentPolicy) -> float:
    """How strongly ``new`` reports the same event as ``old``: 0 when it does not."""
    if abs(new.created_at - old.created_at) > policy.window:
        return 0.0
    score = similarity(new.text, old.text)
    elsewhere = (
        new.district is not None and old.district is not None and new.district != old.district
    )
    if elsewhere:  # the same words about two districts are two events
        return 0.0
    if score >= policy.duplicate:
        return score
    same_district = new.district is not None and new.district == old.district
    if same_district and new.subcategory in policy.area_wide:
        return max(score, policy.similar) if new.subcategory == old.subcategory else 0.0
    same_kind = (
        new.category is not None
        and new.category == old.category
        and new.subcategory == old.subcategory
        and new.district is not None
        and new.district == old.district
    )
    if not same_kind:
        return 0.0
    same_place = new.place is not None and new.place == old.place
    return score if same_place or score >= policy.similar else 0.0
