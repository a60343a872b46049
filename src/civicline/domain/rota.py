"""The reception rota (值班表): where the public is received, on which days, and by whom.

Each reception venue (a unit's reception room: the city's petitions bureau, a county's, a
township's) receives either on every working day (the city's 第一局长 rota: leaders take turns
so that a leader receives the public each working day) or on fixed weekdays ("every Monday",
the townships' leaders' reception day). The working calendar decides: a holiday has no
reception, a make-up working day (调休上班) counts as a working day, and a fixed weekday that
falls on a holiday has none. The leaders of a venue take turns over its reception days in the
order the rota file lists them, from the venue's ``since`` date; the console may name another
leader for one day (an override kept in the database).

A venue's ``code`` is a plain string (a division code such as 341800 宣城市, or 341881001 for a
township of 宁国市), so it can later be matched to the tree of units.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from civicline.domain.calendar import WorkCalendar
from civicline.domain.errors import InvalidInput
from civicline.domain.units import UnitTree

DAY = timedelta(days=1)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
MAX_LEADER = 100
MAX_RANGE_DAYS = 400  # what one rota query may span


class Level(enum.IntEnum):
    """How high a venue stands: a visit to a higher one, skipping the lower, is 越级访."""

    CITY = 1
    COUNTY = 2
    TOWNSHIP = 3


@dataclass(frozen=True, slots=True)
class Venue:
    code: str
    zh: str
    en: str
    address: str
    level: Level
    leaders: tuple[str, ...]
    since: date  # the first leader of the list receives on the first reception day from here
    weekdays: frozenset[int] = frozenset()  # 0 = Monday; empty: every working day
    capacity: int = 20  # appointments per reception day
    hours: str = ""

    def name(self, language: str) -> str:
        return self.zh if language == "zh" else self.en

    def receives_on(self, day: date, calendar: WorkCalendar) -> bool:
        if not calendar.is_working_day(day):
            return False
        return not self.weekdays or day.weekday() in self.weekdays

    def days_text(self, language: str) -> str:
        if not self.weekdays:
            return "每个工作日" if language == "zh" else "every working day"
        names = WEEKDAYS_ZH if language == "zh" else tuple(d.capitalize() for d in WEEKDAYS)
        joined = "、".join if language == "zh" else ", ".join
        return ("每" if language == "zh" else "every ") + joined(
            names[d] for d in sorted(self.weekdays)
        )


@dataclass(frozen=True, slots=True)
class Reception:
    """One reception day at one venue, and the leader on duty (None: no leader named)."""

    day: date
    unit: str
    leader: str | None


@dataclass(frozen=True, slots=True)
class Rota:
    venues: Mapping[str, Venue]
    calendar: WorkCalendar
    overrides: Mapping[tuple[str, date], str] = field(default_factory=dict)

    def venue(self, unit: str) -> Venue:
        found = self.venues.get(unit)
        if found is None:
            raise InvalidInput(f"unknown unit {unit}: not a reception venue of the rota")
        return found

    def receptions(self, start: date, end: date, unit: str | None = None) -> list[Reception]:
        """Every reception from ``start`` to ``end`` (both included), by day then venue."""
        if end < start or (end - start).days > MAX_RANGE_DAYS:
            raise InvalidInput(f"a rota spans 0-{MAX_RANGE_DAYS} days")
        venues = [self.venue(unit)] if unit is not None else list(self.venues.values())
        found = [r for v in venues for r in self._of_venue(v, start, end)]
        return sorted(found, key=lambda r: (r.day, r.unit))

    def leader_on(self, unit: str, day: date) -> str | None:
        """The leader on duty at ``unit`` on ``day``; None when it receives no one that day."""
        found = self.receptions(day, day, unit)
        return found[0].leader if found else None

    def receives_on(self, unit: str, day: date) -> bool:
        return self.venue(unit).receives_on(day, self.calendar)

    def _of_venue(self, venue: Venue, start: date, end: date) -> Iterator[Reception]:
        # The turn is counted over the venue's reception days since ``since``.
        turn = 0
        day = min(venue.since, start)
        while day <= end:
            if venue.receives_on(day, self.calendar):
                leader = None
                if day >= venue.since and venue.leaders:
                    leader = venue.leaders[turn % len(venue.leaders)]
                    turn += 1
                if day >= start:
                    yield Reception(day, venue.code, self.overrides.get((venue.code, day), leader))
            day += DAY


def venues_from_dict(raw: Mapping[str, Any]) -> dict[str, Venue]:
    """The rota file (``venues: {code: {zh, en, address, level, days, leaders, since,
    capacity, hours}}``, see rota.yml)."""
    entries = raw.get("venues")
    if not isinstance(entries, dict) or not entries:
        raise InvalidInput("rota file needs a mapping `venues`")
    return {str(code): _venue(str(code), entry) for code, entry in entries.items()}


def _venue(code: str, entry: Any) -> Venue:
    if not isinstance(entry, dict):
        raise InvalidInput(f"venue {code}: expected a mapping")
    for key in ("zh", "en", "address", "since"):
        if not entry.get(key):
            raise InvalidInput(f"venue {code} needs {key}")
    try:
        level = Level[str(entry.get("level", "city")).upper()]
    except KeyError:
        raise InvalidInput(f"venue {code}: level must be city, county or township") from None
    days = entry.get("days", "working")
    if days == "working":
        weekdays: frozenset[int] = frozenset()
    elif isinstance(days, list) and days and all(str(d).lower() in WEEKDAYS for d in days):
        weekdays = frozenset(WEEKDAYS.index(str(d).lower()) for d in days)
    else:
        raise InvalidInput(f"venue {code}: days must be `working` or a list of weekdays")
    leaders = entry.get("leaders", [])
    if not isinstance(leaders, list) or not all(isinstance(x, str) and x for x in leaders):
        raise InvalidInput(f"venue {code}: leaders must be a list of names")
    since = entry["since"]
    if not isinstance(since, date):
        raise InvalidInput(f"venue {code}: since must be a date (2026-11-02)")
    capacity = entry.get("capacity", 20)
    if not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= 1000:
        raise InvalidInput(f"venue {code}: capacity must be 1-1000")
    return Venue(
        code=code,
        zh=str(entry["zh"]),
        en=str(entry["en"]),
        address=str(entry["address"]),
        level=level,
        leaders=tuple(leaders),
        since=since,
        weekdays=weekdays,
        capacity=capacity,
        hours=str(entry.get("hours", "")),
    )


def check_leader(name: str) -> str:
    if not name.strip() or len(name) > MAX_LEADER:
        raise InvalidInput(f"a leader's name must be 1-{MAX_LEADER} characters")
    return name.strip()


def check_venues(venues: Mapping[str, Venue], units: UnitTree) -> None:
    """Every venue is a unit of the city's tree, at the level the rota file says."""
    for venue in venues.values():
        unit = units.get(venue.code)
        if unit is None:
            raise InvalidInput(f"rota venue {venue.code} is not a unit of the units file")
        if unit.level.value != venue.level.name.lower():
            raise InvalidInput(
                f"rota venue {venue.code} is a {venue.level.name.lower()} venue, "
                f"but unit {unit.code} ({unit.name_zh}) is a {unit.level.value}"
            )
