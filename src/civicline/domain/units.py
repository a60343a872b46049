"""The city's units as a tree: the city, its county-level units (区/县/县级市), their townships
and streets (乡镇/街道) and villages and communities (村/社区), each with the departments that
answer cases there.

A unit's ``path`` lists its ancestors' codes and its own, each followed by "/"
("341800/341881/341881001/"), so "this unit's subtree" is a prefix test in Python and a LIKE
prefix in SQL. The city's departments keep the taxonomy's codes (``human_resources``); a county's
are ``<unit code>.<kind>`` (``341881.human_resources``, 宁国市人社局), where the kind is the city
department's code the taxonomy routes a matter to; a township's or village's one office is
``<unit code>.office``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from civicline.domain.errors import InvalidInput, NotFound


class Level(enum.StrEnum):
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"

    @property
    def depth(self) -> int:
        return _DEPTH[self]


_DEPTH = {Level.CITY: 0, Level.COUNTY: 1, Level.TOWNSHIP: 2, Level.VILLAGE: 3}

OFFICE = "office"
"""The kind of a township's or village's one department: its own office answers its cases."""


def department_code(unit: str, kind: str) -> str:
    """The code of ``unit``'s department of this kind (``341881.human_resources``)."""
    return f"{unit}.{kind}"


def split_department_code(code: str) -> tuple[str | None, str]:
    """(unit, kind) of a department code; (None, code) for the city's own departments."""
    unit, dot, kind = code.partition(".")
    return (unit, kind) if dot else (None, code)


_OFFICES = (
    ("街道", "办事处", "Office"),
    ("镇", "人民政府", "People's Government"),
    ("乡", "人民政府", "People's Government"),
    ("社区", "居委会", "Residents' Committee"),
    ("村", "村委会", "Villagers' Committee"),
)


def office_name(unit: Unit) -> tuple[str, str]:
    """The Chinese and English names of a township's or village's office, by the ending of its
    name: 鳌峰街道办事处, 桃州镇人民政府, …乡人民政府, …社区居委会, …村村委会."""
    for ending, zh, en in _OFFICES:
        if unit.name_zh.endswith(ending):
            return f"{unit.name_zh}{zh}", f"{unit.name_en} {en}"
    return f"{unit.name_zh}办公室", f"{unit.name_en} Office"


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name_zh: str
    name_en: str
    level: Level
    parent: str | None
    path: str
    aliases: tuple[str, ...] = ()
    latitude: float | None = None
    longitude: float | None = None
    # The unit's department kinds when an admin set them (``departments:`` in the file); None:
    # the default (a county's: the taxonomy's county_departments; a township's: its office).
    kinds: tuple[str, ...] | None = None

    def contains(self, other: Unit) -> bool:
        """True when ``other`` is this unit or lies below it."""
        return other.path.startswith(self.path)


@dataclass(frozen=True, slots=True)
class UnitTree:
    """Every unit by code, parents before children; ``root`` is the city."""

    units: Mapping[str, Unit]
    root: str

    def __iter__(self) -> Iterator[Unit]:
        return iter(self.units.values())

    def __len__(self) -> int:
        return len(self.units)

    @property
    def city(self) -> Unit:
        return self.units[self.root]

    def unit(self, code: str) -> Unit:
        try:
            return self.units[code]
        except KeyError:
            raise NotFound("unit", code) from None

    def get(self, code: str | None) -> Unit | None:
        return None if code is None else self.units.get(code)

    def children(self, code: str) -> list[Unit]:
        return [u for u in self.units.values() if u.parent == code]

    def subtree(self, code: str) -> list[Unit]:
        """``code`` and every unit below it, parents first."""
        top = self.unit(code)
        return [u for u in self.units.values() if top.contains(u)]

    def chain(self, code: str) -> list[Unit]:
        """``code`` and its ancestors, nearest first, the city last."""
        out: list[Unit] = []
        unit: Unit | None = self.unit(code)
        while unit is not None:
            out.append(unit)
            unit = self.units.get(unit.parent) if unit.parent else None
        return out

    def contains(self, ancestor: str, code: str) -> bool:
        """True when unit ``code`` is ``ancestor`` or lies below it (False for unknown codes)."""
        top, unit = self.units.get(ancestor), self.units.get(code)
        return top is not None and unit is not None and top.contains(unit)

    def to_dict(self) -> dict[str, Any]:
        """The units file's content for this tree (``from_dict`` reads it back)."""
        entries = [_entry(u) for u in self.units.values()]
        return {"city": entries[0], "units": entries[1:]}

    def replaced(self, unit: Unit) -> UnitTree:
        """The tree with ``unit`` put in the place of the one of its code, or added after its
        parent's subtree; checked as a file is."""
        raw = self.to_dict()
        new = _entry(unit)
        if unit.parent is None:
            return UnitTree.from_dict({**raw, "city": new})
        entries = raw["units"]
        if unit.code in self.units:
            entries = [new if e["code"] == unit.code else e for e in entries]
        else:
            inside = [i for i, e in enumerate(entries) if self.contains(unit.parent, e["code"])]
            at = max(inside) + 1 if inside else len(entries)
            entries = [*entries[:at], new, *entries[at:]]
        return UnitTree.from_dict({"city": raw["city"], "units": entries})

    def county_of(self, code: str) -> Unit | None:
        """The county-level unit ``code`` lies in (itself when it is one); None for the city."""
        return next((u for u in self.chain(code) if u.level == Level.COUNTY), None)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> UnitTree:
        """Build from the parsed units file (``city`` and ``units``, parents before children);
        every reference is checked."""
        try:
            city = raw["city"]
            root = _unit(city, Level.CITY, None, "")
            units: dict[str, Unit] = {root.code: root}
            for entry in raw.get("units") or ():
                parent_code = str(entry["parent"])
                parent = units.get(parent_code)
                if parent is None:
                    raise InvalidInput(
                        f"unit {entry.get('code')} names parent {parent_code}, "
                        "which is not listed before it"
                    )
                unit = _unit(entry, Level(str(entry["level"])), parent.code, parent.path)
                if unit.level.depth <= parent.level.depth:
                    raise InvalidInput(
                        f"unit {unit.code} ({unit.level}) cannot lie in {parent.code} "
                        f"({parent.level})"
                    )
                if unit.code in units:
                    raise InvalidInput(f"unit {unit.code} is listed twice")
                units[unit.code] = unit
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"units file is malformed: {exc!r}") from exc
        return cls(units=units, root=root.code)


def _unit(raw: Mapping[str, Any], level: Level, parent: str | None, parent_path: str) -> Unit:
    code = str(raw["code"]).strip()
    if not code or "/" in code or "." in code:
        raise InvalidInput(f"unit code {code!r} must be non-empty, without '/' or '.'")
    lat, lon = raw.get("lat"), raw.get("lon")
    return Unit(
        code=code,
        name_zh=str(raw["zh"]),
        name_en=str(raw.get("en") or raw["zh"]),
        level=level,
        parent=parent,
        path=f"{parent_path}{code}/",
        aliases=tuple(str(a) for a in raw.get("aliases") or ()),
        latitude=None if lat is None else float(lat),
        longitude=None if lon is None else float(lon),
        kinds=None if raw.get("departments") is None else tuple(str(k) for k in raw["departments"]),
    )


def _entry(unit: Unit) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": unit.code, "zh": unit.name_zh, "en": unit.name_en}
    if unit.parent is not None:
        entry |= {"level": unit.level.value, "parent": unit.parent}
    if unit.aliases:
        entry["aliases"] = list(unit.aliases)
    if unit.latitude is not None and unit.longitude is not None:
        entry |= {"lat": unit.latitude, "lon": unit.longitude}
    if unit.kinds is not None:
        entry["departments"] = list(unit.kinds)
    return entry
