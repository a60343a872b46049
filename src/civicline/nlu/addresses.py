"""A report's whereabouts for incident grouping: ``signature(text)`` (see domain.incidents).

Places come from ``entities.extract_entities`` (the gazetteer's compounds, roads and landmarks,
and addresses it does not know), each put in its kind; a road's house number is kept with the
road (``沿江路#233``). The finer parts of an address are read here: buildings (``3号楼``,
``5栋``, ``B座``, ``三号楼``, ``Building 3``), units (``2单元``), rooms (``502室``, the last
part of ``5-2-502``), bus and metro lines (``21路公交``, ``地铁3号线``), calendar dates
(``11月20日``, ``2026-11-20``, ``Nov 20``) and clock hours (``晚上10点`` is 22, ``22:30``).
What happened: the taxonomy's sub-categories the words name (but those named alongside any
matter, like property management), and the kind of outage.
"""

from __future__ import annotations

import re
from typing import Final

from civicline.domain.incidents import WHEREABOUTS, IncidentPolicy, Signature
from civicline.domain.taxonomy import Taxonomy
from civicline.nlu.base import Entity
from civicline.nlu.entities import Gazetteer, Place, default_gazetteer, extract_entities
from civicline.nlu.masking import fold

_CN: Final = "零〇一二两三四五六七八九十百"
_CN_VALUE: Final = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}


def number(text: str) -> int | None:
    """``18`` or Chinese numerals below a thousand (``十二``, ``二十三``, ``一百零五``)."""
    if text.isdigit():
        return int(text)
    total, digit = 0, None
    for char in text:
        if char in _CN_VALUE:
            digit = _CN_VALUE[char]
        elif char == "十":
            total += (digit if digit is not None else 1) * 10
            digit = None
        elif char == "百":
            total += (digit if digit is not None else 1) * 100
            digit = None
        else:
            return None
    return total + (digit or 0)


_ROAD_END = re.compile(r"(?:路|街|巷|大道|胡同|road|street|avenue|lane|boulevard|rd|st|ave)$")
_COMPOUND_END = re.compile(r"(?:小区|花园|家园|公寓|新村|苑|里|estate|garden|gardens|court)$")
_HOUSE = re.compile(r"^(?P<road>.+?)(?P<n>\d+(?:[-之]\d+)?)号$")
_EN_HOUSE = re.compile(r"^(?:no\.?\s*)?(?P<n>\d+[a-z]?),?\s+(?P<road>.+)$")
_EN_PREFIX = re.compile(r"^(?:on|along|near|at|in|off|by)\s+")

_BUILDING = re.compile(
    r"(?<![\d.:-])(?P<n>\d{1,4})\s*(?:号楼|号院|栋|幢|座|號樓)"
    rf"|(?P<cn>[{_CN}]{{1,4}})(?:号楼|号院)"
    r"|(?<![一两几每这那整])(?P<cn2>[二三四五六七八九十][一二三四五六七八九十]{0,3})(?:栋|幢)(?!楼)"
    r"|(?<![a-z])(?P<letter>[a-z])\s*(?:座|栋)"
    r"|\b(?:building|block|bldg\.?|tower)\s*(?:no\.?\s*)?(?P<en>\d{1,4}[a-z]?)\b"
)
_UNIT = re.compile(rf"(?P<n>\d{{1,2}}|[{_CN}]{{1,3}})\s*单元")
_ROOM = re.compile(
    r"(?P<n>\d{3,4})\s*(?:室|房间|房)"
    r"|单元\s*-?(?P<after>\d{3,4})(?![\d号栋楼])"
    r"|\b(?:flat|apt\.?|apartment|room|unit)\s*(?:no\.?\s*)?(?P<en>\d{2,4}[a-z]?)\b"
)
_TRIPLE = re.compile(r"(?<![\d-])(?P<b>\d{1,3})-(?P<u>\d{1,2})-(?P<r>\d{3,4})(?![\d-])")
_ROUTE = re.compile(
    r"(?<![\da-z])(?P<n>[a-z]?\d{1,3})\s*路(?=公交|公共汽车|车|巴士|线|司机|末班|首班|大巴)"
    r"|地铁\s*(?P<metro>\d{1,2})\s*号线"
    r"|\b(?:bus|route)\s*(?:no\.?\s*)?(?P<bus>\d{1,3})\b"
    r"|\bmetro\s+line\s*(?P<line>\d{1,2})\b"
)
_MONTH_NAMES: Final = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_MONTHS: Final = tuple(_MONTH_NAMES.split("|"))
_MONTH_WORD = rf"(?P<mon>{_MONTH_NAMES})[a-z]*\.?"
_DATE = re.compile(
    r"(?<!\d)(?:\d{4}年)?(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]"
    r"|(?<!\d)\d{4}[-./](?P<m2>\d{1,2})[-./](?P<d2>\d{1,2})(?!\d)"
    r"|(?P<m3>[一二三四五六七八九十]{1,2})月(?P<d3>[一二三四五六七八九十]{1,3})[日号]"
    rf"|\b{_MONTH_WORD}\s+(?P<d4>\d{{1,2}})(?:st|nd|rd|th)?\b"
    rf"|\b(?P<d5>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon5>{_MONTH_NAMES})[a-z]*\b"
)
_EVENING: Final = ("下午", "傍晚", "晚上", "今晚", "昨晚")  # 8点 is 20
_NIGHT: Final = ("夜里", "夜间", "深夜", "半夜")  # 11点 is 23, 2点 is 2
_PERIODS: Final = (*_EVENING, *_NIGHT, "中午", "凌晨", "清晨", "早上", "早晨", "上午")
_HOUR = re.compile(
    r"(?<![\d.])(?P<n>\d{1,2})\s*[点點](?!钟头)"
    r"|(?<!\d)(?P<hh>[01]?\d|2[0-3])[:：][0-5]\d(?!\d)"
    rf"|(?P<cn>[{_CN}]{{1,3}})[点點](?P<clock>(?=[{_CN}]|半|多|钟|左右|以后|之后|以前|之前|到|至|还))?"
    r"|\b(?P<en>\d{1,2})(?::\d{2})?\s?(?P<ampm>am|pm|a\.m\.|p\.m\.)"
)


_BY_NAME: list[tuple[Gazetteer, dict[str, Place]]] = []


def _places_by_name() -> dict[str, Place]:
    """The default gazetteer's places by canonical name (built once per gazetteer)."""
    gazetteer = default_gazetteer()
    if not _BY_NAME or _BY_NAME[0][0] is not gazetteer:
        _BY_NAME[:] = [(gazetteer, {place.zh: place for place in gazetteer.places})]
    return _BY_NAME[0][1]


def _name(value: str) -> str:
    return value.casefold().replace(" ", "").replace("’", "'")


def _place(entity: Entity, found: dict[str, set[str]]) -> None:
    value = entity.value
    if entity.source == "gazetteer":
        house = _HOUSE.match(value)
        place = _places_by_name().get(house["road"] if house else value)
        if place is None:
            return
        if place.type == "road":
            found["roads"].add(place.zh)
            if house is not None:
                found["houses"].add(f"{place.zh}#{house['n']}")
        elif place.type == "neighbourhood":
            found["compounds"].add(place.zh)
        elif place.type == "landmark":
            found["landmarks"].add(place.zh)
        return
    folded = _EN_PREFIX.sub("", value.casefold().strip())
    house = _HOUSE.match(folded) or _EN_HOUSE.match(folded)
    road = _name(house["road"]) if house else _name(folded)
    if _ROAD_END.search(road):
        found["roads"].add(road)
        if house is not None:
            found["houses"].add(f"{road}#{house['n']}")
    elif _COMPOUND_END.search(road):
        found["compounds"].add(road)


def _spans(entities: tuple[Entity, ...]) -> list[tuple[int, int]]:
    return [(e.start, e.end) for e in entities if e.kind == "place"]


def _buildings(folded: str, spans: list[tuple[int, int]], found: dict[str, set[str]]) -> None:
    for match in _BUILDING.finditer(folded):
        inside = next((b for a, b in spans if a <= match.start() and match.end() <= b), None)
        if inside is not None and not (match.end() == inside and folded[inside - 1] in "楼院"):
            continue  # part of a place's name; but 沿江路233号楼 is building 233 too
        raw = match["n"] or match["cn"] or match["cn2"] or match["en"]
        if raw is not None:
            value = None if raw[-1] in "abcdefghijklmnopqrstuvwxyz" else number(raw)
            found["buildings"].add(str(value) if value is not None else raw)
        elif match["letter"]:
            found["buildings"].add(match["letter"])
    for match in _UNIT.finditer(folded):
        value = number(match["n"])
        if value is not None:
            found["units"].add(str(value))
    for match in _ROOM.finditer(folded):
        found["rooms"].add(match["n"] or match["after"] or match["en"])
    for match in _TRIPLE.finditer(folded):
        found["buildings"].add(str(int(match["b"])))
        found["units"].add(str(int(match["u"])))
        found["rooms"].add(match["r"])


def _routes(folded: str, found: dict[str, set[str]]) -> None:
    for match in _ROUTE.finditer(folded):
        if match["metro"] or match["line"]:
            found["routes"].add(f"m{int(match['metro'] or match['line'])}")
        else:
            found["routes"].add(match["n"] or match["bus"])


def _dates(folded: str, found: dict[str, set[str]]) -> None:
    for match in _DATE.finditer(folded):
        if match["m"]:
            month, day = int(match["m"]), int(match["d"])
        elif match["m2"]:
            month, day = int(match["m2"]), int(match["d2"])
        elif match["m3"]:
            month, day = number(match["m3"]) or 0, number(match["d3"]) or 0
        elif match["mon"]:
            month, day = _MONTHS.index(match["mon"]) + 1, int(match["d4"])
        else:
            month, day = _MONTHS.index(match["mon5"]) + 1, int(match["d5"])
        if 1 <= month <= 12 and 1 <= day <= 31:
            found["dates"].add(f"{month:02d}-{day:02d}")


def _hours(folded: str, found: dict[str, set[str]]) -> None:
    for match in _HOUR.finditer(folded):
        if match["en"]:
            hour = int(match["en"]) % 12 + (12 if match["ampm"].startswith("p") else 0)
        else:
            raw = match["n"] or match["hh"] or match["cn"]
            value = number(raw)
            if value is None or value > 24:
                continue
            hour = value
            before = folded[max(0, match.start() - 8) : match.start()]
            if match["cn"] and match["clock"] is None and not before.endswith(_PERIODS):
                continue  # 一点 / 两点 alone: "a little", "two points"
            if match["hh"] is None:
                hour = _clock(hour, before)
        found["hours"].add(str(hour % 24))


def _clock(hour: int, before: str) -> int:
    """An hour said with the part of the day before it, on the 24-hour clock."""
    period = max(_PERIODS, key=before.rfind)
    if period not in before:
        return hour
    if period in _EVENING or (period in _NIGHT and hour >= 6):
        return 0 if hour == 12 else hour + 12 if hour < 12 else hour
    if period == "中午" and hour < 5:
        return hour + 12
    return hour


def signature(
    text: str,
    *,
    taxonomy: Taxonomy,
    policy: IncidentPolicy,
    entities: tuple[Entity, ...] | None = None,
) -> Signature:
    """What ``text`` names, for comparing it with other reports (``entities``: the text's own,
    when the caller has them already)."""
    found: dict[str, set[str]] = {name: set() for name in WHEREABOUTS}
    entities = extract_entities(text) if entities is None else entities
    for entity in entities:
        if entity.kind == "place":
            _place(entity, found)
    folded = fold(text).lower()
    _buildings(folded, _spans(entities), found)
    _routes(folded, found)
    _dates(folded, found)
    _hours(folded, found)
    hits = [
        (count, sub.code)
        for sub, count in taxonomy.keywords.hits(folded)
        if sub.code not in policy.generic_topics
    ]
    topic = max(hits, key=lambda hit: hit[0])[1] if hits else None
    return Signature(
        **{name: frozenset(values) for name, values in found.items()},
        topics=frozenset(code for _, code in hits),
        topic=topic,
        outage=policy.outage_in(folded),
    )
