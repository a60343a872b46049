"""Where a complaint is, as a unit of the city (units.yml), for routing by place.

``places_in(text)`` gives every place the gazetteer recognises, each with the code of its unit:
the city, county-level units, townships and streets by their names, aliases and pinyin (an
address's administrative part is one place, the most specific: ``宣城市宣州区鳌峰街道`` is
鳌峰街道 341802003), and roads, compounds and landmarks by the unit they lie in.
``unit_of(text)`` picks the one to route by: the most specific unit named, among those that
agree with the administrative units the text names outright.

``nearest_unit(lat, lon)`` is for a shared location (Telegram, Open311): the county-level unit
whose point is nearest. The shipped units file has points for the county-level units only (the
county seats, from cpca), none for townships, so a location resolves to a county, never finer;
a unit file with township points resolves to the nearest of those. Beyond ``max_km`` of every
point it is outside the city: None.

All are pure functions of the text or the point and the files, read once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from civicline.domain.units import Level, Unit, UnitTree
from civicline.nlu.entities import Gazetteer, default_gazetteer, extract_entities

EARTH_RADIUS_KM = 6371.0
MAX_KM = 60.0  # a county seat to the far edge of its county: 宣城's are under 50 km


@dataclass(frozen=True, slots=True)
class FoundPlace:
    zh: str  # the canonical name, as the entity's value (a road with its house number)
    unit: str  # the code of the unit the place is or lies in
    level: str  # that unit's level: city, county, township, village
    kind: str  # city, district, township, village, road, neighbourhood, landmark
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class NearestUnit:
    unit: str
    zh: str
    level: str
    km: float


def _tree(gazetteer: Gazetteer) -> UnitTree:
    if gazetteer.tree is None:
        raise ValueError("the gazetteer was loaded without its units")
    return gazetteer.tree


def places_in(text: str, gazetteer: Gazetteer | None = None) -> tuple[FoundPlace, ...]:
    """The recognised places of ``text`` that have a unit, in the order they appear."""
    gazetteer = gazetteer or default_gazetteer()
    tree = _tree(gazetteer)
    found = []
    for entity in extract_entities(text):
        if entity.kind != "place" or entity.unit is None:
            continue
        unit = tree.unit(entity.unit)
        place = gazetteer.unit_place(unit.code)
        named = place is not None and place.zh == entity.value
        kind = place.type if named and place is not None else _kind(gazetteer, entity.value)
        found.append(
            FoundPlace(entity.value, unit.code, str(unit.level), kind, entity.start, entity.end)
        )
    return tuple(found)


def _kind(gazetteer: Gazetteer, value: str) -> str:
    place = gazetteer.find(value)
    return place.type if place is not None else "road"  # a road with its house number


def unit_of(text: str, gazetteer: Gazetteer | None = None) -> str | None:
    """The code of the unit to route ``text`` by, or None when it names no place of the city
    below the city itself."""
    return unit_among(places_in(text, gazetteer), gazetteer)


def unit_among(places: Sequence[FoundPlace], gazetteer: Gazetteer | None = None) -> str | None:
    """``unit_of`` over the places ``places_in`` already found in a text."""
    tree = _tree(gazetteer or default_gazetteer())
    found = [p for p in places if p.level != Level.CITY]
    if not found:
        return None
    named = [p.unit for p in found if p.kind in ("district", "township", "village")]

    def agrees(code: str) -> bool:
        return all(tree.contains(n, code) or tree.contains(code, n) for n in named)

    candidates = [p for p in found if agrees(p.unit)] or [p for p in found if p.unit in named]
    best = max(candidates, key=lambda p: (Level(p.level).depth, -p.start))
    return best.unit


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def nearest_unit(
    lat: float, lon: float, *, tree: UnitTree | None = None, max_km: float = MAX_KM
) -> NearestUnit | None:
    """The unit below the city whose point is nearest (lat, lon), within ``max_km``."""
    tree = tree or _tree(default_gazetteer())
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    pointed: list[tuple[float, Unit]] = [
        (_km(lat, lon, u.latitude, u.longitude), u)
        for u in tree
        if u.level != Level.CITY and u.latitude is not None and u.longitude is not None
    ]
    if not pointed:
        return None
    km, unit = min(pointed, key=lambda pair: (pair[0], -pair[1].level.depth))
    if km > max_km:
        return None
    return NearestUnit(unit=unit.code, zh=unit.name_zh, level=str(unit.level), km=round(km, 2))
