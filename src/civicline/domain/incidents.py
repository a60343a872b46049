"""Incidents: many reports of one event become one case, and reports of two events never do.

When a water main bursts, fifty people report it on five channels. Staff should see one
incident with fifty reporters and answer it once. But a lift at 红星小区 872号楼 and a lift at
沿江路 233号楼 are two matters for two sets of citizens: an answer to one must never reach the
other. So a report is reduced to its ``Signature``: the compounds, roads, house numbers,
buildings, units, rooms, landmarks and bus routes it names, its calendar dates and clock hours,
and what happened (the sub-categories its words name, and the kind of outage when it is one).
Two reports within the window are then compared (``compare``):

* they name two districts, or different compounds, roads, house numbers, buildings, units,
  landmarks, bus routes or dates: never merged. Only an outage (water, power, gas, heating:
  area-wide by nature) in one district may be *suggested* across such places, for staff to
  decide.
* they name the same building, house number, unit or landmark and the same matter, or nearly
  the same words: merged automatically.
* an outage named at one compound or road and at a place inside it: merged automatically.
* one names the place more finely than the other (a compound and a building in it), only a
  compound or road with no finer detail (a compound has many lifts), the rooms or clock hours
  differ, or only one of them names a place: a *suggestion* staff confirm or dismiss.
* neither names a place: merged only when the words nearly repeat (a resent message, or a text
  long enough not to be a coincidence); short repeats are suggested.

``keys`` gives the short strings a report is indexed by (place names, the area of an outage,
MinHash bands of its words): candidates are the open reports sharing the most of them,
newest first, so the relevant ones are found however many cases are open.
"""

from __future__ import annotations

import enum
import functools
import re
import unicodedata
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
_DIGITS = re.compile(r"\d+")


class Match(enum.IntEnum):
    NONE = 0
    SUGGEST = 1  # staff confirm or dismiss
    MERGE = 2  # merged automatically


@dataclass(frozen=True, slots=True)
class IncidentPolicy:
    window: timedelta = timedelta(hours=6)
    duplicate: float = 0.8  # character-trigram Jaccard of two texts: nearly the same words
    similar: float = 0.25  # bigram Jaccard of what two texts say once places are taken out
    long_text: int = 16  # characters from which a repeat naming no place is no coincidence
    hours_apart: int = 2  # clock hours further apart than this are two moments
    candidates: int = 30  # reports compared with a new one, the most relevant first
    suggestions: int = 2  # at most this many suggestions for one report
    # Sub-categories named alongside any matter ("物业不管"): they say nothing of what happened.
    generic_topics: frozenset[str] = frozenset({"property_management"})
    outages: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "water": (
                *("停水", "断水", "没水", "没有水", "没有自来水", "没自来水", "不出水", "没来水"),
                *("还没来水", "水压低", "水压很低", "水压太低", "no water", "water cut"),
                "water outage",
            ),
            "power": (
                *("停电", "断电", "没电", "没有电", "跳闸", "power cut", "blackout"),
                *("power outage", "no electricity", "no power"),
            ),
            "gas": ("停气", "断气", "没气", "没有燃气", "没有天然气", "燃气中断", "no gas"),
            "heat": (
                *("暖气不热", "暖气不暖", "没有暖气", "没暖气", "停暖", "暖气停", "供暖不足"),
                *("no heating", "heating is off", "radiators are cold"),
            ),
        }
    )

    def outage_in(self, folded: str) -> str | None:
        """The kind of outage a (case-folded) text reports, or None."""
        for kind, words in self.outages.items():
            if any(word in folded for word in words):
                return kind
        return None


# What a report names (each a set in its Signature), then what happened.
WHEREABOUTS = (
    "compounds",
    "roads",
    "houses",
    "buildings",
    "units",
    "rooms",
    "landmarks",
    "routes",
    "dates",
    "hours",
)
_FIELDS = (*WHEREABOUTS, "topics")
_TAGS = dict(zip(_FIELDS, "crhbumlxdkt", strict=True))
_FIELD_OF = {tag: name for name, tag in _TAGS.items()}


def _clean(value: str) -> str:
    return value.replace(" ", "").replace("|", "").replace(":", "")[:40]


@dataclass(frozen=True, slots=True)
class Signature:
    """What a report names, normalised for comparison (see ``nlu.addresses``)."""

    compounds: frozenset[str] = frozenset()  # 红星小区
    roads: frozenset[str] = frozenset()  # 沿江路
    houses: frozenset[str] = frozenset()  # 沿江路#233
    buildings: frozenset[str] = frozenset()  # 872 (号楼, 栋, 幢, 座)
    units: frozenset[str] = frozenset()  # 2 (单元)
    rooms: frozenset[str] = frozenset()  # 502 (室)
    landmarks: frozenset[str] = frozenset()  # 人民公园
    routes: frozenset[str] = frozenset()  # 21 (路公交)
    dates: frozenset[str] = frozenset()  # 11-20
    hours: frozenset[str] = frozenset()  # 22 (a clock hour, 0-23)
    topics: frozenset[str] = frozenset()  # sub-category codes the words name, the main first
    topic: str | None = None  # the sub-category named most
    outage: str | None = None  # water, power, gas, heat
    # The places a report is about, each tagged with its kind (c:红星小区, r:沿江路).
    anchors: frozenset[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        anchors = frozenset(
            f"{_TAGS[name]}:{value}"
            for name in ("compounds", "roads", "landmarks", "routes")
            for value in getattr(self, name)
        )
        object.__setattr__(self, "anchors", anchors)

    def encode(self) -> str:
        """A compact text form stored with the case: ``c:红星小区|b:872|t:elevators``."""
        parts = [
            f"{_TAGS[name]}:{_clean(value)}"
            for name in _FIELDS
            for value in sorted(getattr(self, name))
        ]
        if self.topic is not None:
            parts.append(f"T:{self.topic}")
        if self.outage is not None:
            parts.append(f"o:{self.outage}")
        return "|".join(parts)

    @staticmethod
    def decode(text: str | None) -> Signature:
        """The signature ``encode`` gave (the same text is decoded once)."""
        return _decode(text or "")


@functools.lru_cache(maxsize=8192)
def _decode(text: str) -> Signature:
    values: dict[str, set[str]] = {name: set() for name in _FIELDS}
    topic = outage = None
    for part in text.split("|"):
        tag, _, value = part.partition(":")
        if tag == "T":
            topic = value
        elif tag == "o":
            outage = value
        elif tag in _FIELD_OF and value:
            values[_FIELD_OF[tag]].add(value)
    frozen = {name: frozenset(found) for name, found in values.items()}
    return Signature(**frozen, topic=topic, outage=outage)


@dataclass(frozen=True, slots=True)
class Report:
    """What the comparison needs of a case."""

    number: str
    citizen_id: int
    text: str
    created_at: datetime
    district: str | None
    signature: Signature


@dataclass(frozen=True, slots=True)
class Candidate:
    """An open report found by the index, with what deciding about it needs."""

    case_id: int
    report: Report
    status: str
    lead: str | None  # the case it is merged into, if any
    department: str | None
    shared: int = 0  # weight of index keys shared with the new report


class SuggestionStatus(enum.StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"  # staff merged the report into the incident
    DISMISSED = "dismissed"  # staff said: two events


@dataclass(slots=True)
class Suggestion:
    """Report ``case`` may be one incident with ``lead``: staff decide."""

    case: str
    lead: str
    score: float
    reason: str
    created_at: datetime
    status: SuggestionStatus = SuggestionStatus.OPEN
    decided_by: str | None = None
    decided_at: datetime | None = None
    id: int | None = None
    # Read with the suggestion, for showing and for access checks.
    case_summary: str = ""
    lead_summary: str = ""
    case_department: str | None = None
    lead_department: str | None = None


class Relation(enum.IntEnum):
    """How the places two reports name relate."""

    CONFLICT = 0  # two different places (or dates): two events
    NONE = 1  # neither names a place
    ONE = 2  # only one names a place
    APART = 3  # both name places, of different kinds (a compound, a road): unknown
    NESTED = 4  # one names the place more finely (a compound; a building in it)
    SAME_COARSE = 5  # the same compound, road or bus route, nothing finer on either side
    SAME_FINE = 6  # the same building, house number, unit or landmark


class Matter(enum.IntEnum):
    DIFFERENT = 0
    UNKNOWN = 1  # no sub-category on one side: the words decide
    RELATED = 2  # sub-categories overlap, the main ones differ
    SAME = 3


@dataclass(frozen=True, slots=True)
class Verdict:
    match: Match
    score: float  # ranks candidates of one match: the better place and words, the higher
    reason: str
    elsewhere: bool = False  # an outage suggested across two places of a district

    def __bool__(self) -> bool:
        return self.match != Match.NONE


UNRELATED = Verdict(Match.NONE, 0.0, "")


def _disjoint(a: frozenset[str], b: frozenset[str]) -> bool:
    return bool(a) and bool(b) and a.isdisjoint(b)


def relation(a: Signature, b: Signature) -> tuple[Relation, bool]:
    """How the places relate, and whether a conflict is of places only (not of dates)."""
    if _disjoint(a.dates, b.dates):
        return Relation.CONFLICT, False
    for x, y in (
        (a.compounds, b.compounds),
        (a.roads, b.roads),
        (a.landmarks, b.landmarks),
        (a.routes, b.routes),
        (a.houses, b.houses),
        (a.buildings, b.buildings),
        (a.units, b.units),
    ):
        if x and y and x.isdisjoint(y):
            return Relation.CONFLICT, True
    shared = a.anchors & b.anchors
    if shared:
        if a.houses != b.houses or a.buildings != b.buildings or a.units != b.units:
            return Relation.NESTED, False
        fine = a.houses or a.buildings or a.units
        if fine or any(anchor.startswith("l:") for anchor in shared):
            return Relation.SAME_FINE, False
        return Relation.SAME_COARSE, False
    if a.anchors and b.anchors:
        return Relation.APART, False
    if a.anchors or b.anchors:
        return Relation.ONE, False
    return Relation.NONE, False


def matter(a: Signature, b: Signature) -> Matter:
    if a.outage is not None or b.outage is not None:
        if a.outage == b.outage:
            return Matter.SAME
        if a.outage is not None and b.outage is not None:
            return Matter.DIFFERENT
        return Matter.RELATED if a.topics & b.topics else Matter.DIFFERENT
    if a.topic is None or b.topic is None:
        return Matter.UNKNOWN
    if a.topic == b.topic:
        return Matter.SAME
    return Matter.RELATED if a.topics & b.topics else Matter.DIFFERENT


def plain(text: str) -> str:
    """The text as compared: NFKC, case-folded, without spaces and punctuation."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text).casefold())


@functools.lru_cache(maxsize=2048)
def trigrams(text: str) -> frozenset[str]:
    """Character trigrams of the plain text (a text compared again is not cut again)."""
    flat = plain(text)
    if len(flat) < 3:
        return frozenset({flat}) if flat else frozenset()
    return frozenset(flat[i : i + 3] for i in range(len(flat) - 2))


def _jaccard(left: frozenset[str], right: frozenset[str]) -> float:
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def similarity(a: str, b: str) -> float:
    """Character-trigram Jaccard of two texts (1.0: the same words)."""
    return _jaccard(trigrams(a), trigrams(b))


@functools.lru_cache(maxsize=2048)
def _gist(text: str, signature: Signature) -> frozenset[str]:
    """Character bigrams of what a text says once its places and numbers are taken out."""
    flat = plain(text)
    for name in ("compounds", "roads", "landmarks"):
        for value in getattr(signature, name):
            flat = flat.replace(value.casefold(), " ")
    flat = _DIGITS.sub(" ", flat)
    return frozenset(flat[i : i + 2] for i in range(len(flat) - 1) if " " not in flat[i : i + 2])


def gist_similarity(a: Report, b: Report) -> float:
    return _jaccard(_gist(a.text, a.signature), _gist(b.text, b.signature))


def _hours_apart(a: frozenset[str], b: frozenset[str], limit: int) -> bool:
    if not a or not b:
        return False
    for x in a:
        for y in b:
            gap = abs(int(x) - int(y)) % 24
            if min(gap, 24 - gap) <= limit:
                return False
    return True


def compare(new: Report, old: Report, policy: IncidentPolicy) -> Verdict:
    """Whether ``new`` reports the event ``old`` reports: merge, suggest, or neither."""
    if abs(new.created_at - old.created_at) > policy.window:
        return UNRELATED
    if new.district is not None and old.district is not None and new.district != old.district:
        return UNRELATED
    a, b = new.signature, old.signature
    where, places_only = relation(a, b)
    kind = matter(a, b)
    same_outage = a.outage is not None and a.outage == b.outage
    same_district = new.district is not None and new.district == old.district
    if where == Relation.CONFLICT:
        if places_only and same_outage and same_district:
            return Verdict(Match.SUGGEST, 0.5, f"{a.outage} outage in {new.district}", True)
        return UNRELATED
    if kind == Matter.DIFFERENT:
        return UNRELATED
    words = similarity(new.text, old.text)
    duplicate = words >= policy.duplicate
    gist = 1.0 if kind == Matter.SAME else gist_similarity(new, old)
    close = kind >= Matter.RELATED or gist >= policy.similar
    doubt = _disjoint(a.rooms, b.rooms) or _hours_apart(a.hours, b.hours, policy.hours_apart)
    score = float(where) + words
    match = Match.NONE
    reason = ""
    if where == Relation.SAME_FINE:
        if kind == Matter.SAME or duplicate:
            match, reason = Match.MERGE, "same place, same matter"
        else:  # the same door or building: staff look, whatever the words
            match, reason = Match.SUGGEST, "same place, perhaps the same matter"
    elif where == Relation.SAME_COARSE:
        if same_outage or duplicate:
            match, reason = Match.MERGE, "same place, same matter"
        elif close:
            match, reason = Match.SUGGEST, "same compound or road, nothing finer named"
    elif where == Relation.NESTED:
        if same_outage:
            match, reason = Match.MERGE, f"{a.outage} outage at one place"
        elif close:
            match, reason = Match.SUGGEST, "the same place named more finely"
    elif where == Relation.NONE:
        resent = new.citizen_id == old.citizen_id
        if duplicate and (resent or len(plain(new.text)) >= policy.long_text):
            match, reason = Match.MERGE, "the same words"
        elif duplicate or (same_outage and same_district):
            match, reason = Match.SUGGEST, "similar words, no place named"
    elif duplicate or (same_outage and same_district):
        match, reason = Match.SUGGEST, "places of different kinds, the same words or outage"
    elif where == Relation.ONE and kind == Matter.SAME and gist >= policy.similar:
        match, reason = Match.SUGGEST, "only one names the place"
    if match == Match.MERGE and doubt:
        match, reason = Match.SUGGEST, "different rooms or hours"
    if match == Match.NONE:
        return UNRELATED
    return Verdict(match, score, reason)


# --- index keys ---------------------------------------------------------------------------------

BANDS = 6
ROWS = 2


def _mixed(gram: str) -> int:
    return (zlib.crc32(gram.encode()) * 0x9E3779B1) & 0xFFFFFFFF


def text_bands(text: str) -> list[str]:
    """MinHash band keys of a text's trigrams (one-permutation hashing, ``BANDS`` bands of
    ``ROWS``): texts with Jaccard 0.8 share a band with probability about 0.99."""
    bins = BANDS * ROWS
    lowest: list[int | None] = [None] * bins
    for gram in trigrams(text):
        value = _mixed(gram)
        slot, rest = value % bins, value // bins
        current = lowest[slot]
        if current is None or rest < current:
            lowest[slot] = rest
    keys = []
    for band in range(BANDS):
        rows = lowest[band * ROWS : (band + 1) * ROWS]
        if all(row is not None for row in rows):
            keys.append(f"t:{band}:" + ":".join(str(row) for row in rows))
    return keys


def keys(text: str, district: str | None, signature: Signature) -> list[tuple[str, int]]:
    """(key, weight) a report is indexed by: a candidate's score is the weight it shares."""
    found: dict[str, int] = {}
    anchors = signature.anchors
    for anchor in anchors:
        found[anchor] = 3
    for house in signature.houses:
        found[f"h:{house}"] = 3
    for anchor in anchors:
        if anchor[0] in "cr":
            for building in signature.buildings:
                found[f"b:{anchor[2:]}#{building}"] = 3
    for landmark in signature.landmarks:
        found[f"l:{landmark}"] = 4
    if signature.outage is not None and district is not None:
        found[f"a:{district}:{signature.outage}"] = 2
    flat = plain(text)
    if flat:
        found[f"e:{zlib.crc32(flat.encode()):08x}"] = 2
    for band in text_bands(text):
        found[band] = 1
    return [(key[:96], weight) for key, weight in found.items()]


def exclusive(found: list[tuple[str, int]]) -> list[str]:
    """The keys that say what a report is about (its places, its outage's area, its exact
    words): two reports grouped at the same moment wait for each other on these."""
    return [key for key, _ in found if not key.startswith("t:")]
