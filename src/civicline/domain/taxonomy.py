"""Categories and departments: the city's routing table, loaded from an editable data file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from civicline.domain.errors import InvalidInput, NotFound
from civicline.domain.units import (
    OFFICE,
    Level,
    Unit,
    UnitTree,
    department_code,
    office_name,
    split_department_code,
)


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name_zh: str
    name_en: str
    outside: bool = False  # a unit outside the government (a utility, a carrier): cases go there
    unit: str | None = None  # the unit it belongs to (the city's code, or None without a tree)


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    name_zh: str
    name_en: str
    department: str
    accept_hours: int
    complete_working_days: int
    reply_working_days: int | None = None  # to the first answer; None: the default (3)
    share: float | None = None  # the expected share of complaints (the classifier's prior)
    city_level: bool = False  # always the city's department, wherever the place lies


@dataclass(frozen=True, slots=True)
class Subcategory:
    """A finer label inside a category (the second level of 信访内容分类), recognised by the
    classifier or by its keywords (zh and en); its department, when set, is where its cases go
    instead of the category's."""

    code: str
    category: str
    name_zh: str
    name_en: str
    keywords: tuple[str, ...]
    department: str | None = None
    city_level: bool = False

    def hits(self, folded_text: str) -> int:
        return sum(1 for word in self.keywords if word in folded_text)


@dataclass(frozen=True, slots=True)
class KeywordIndex:
    """Which sub-categories' keywords a text names, without looking for every keyword in it:
    a keyword is looked for only when the text holds its first two characters (its one, for a
    one-character keyword). The counts are ``Subcategory.hits``'s."""

    subs: tuple[Subcategory, ...]
    leads: dict[str, tuple[tuple[int, str], ...]]
    lead_set: frozenset[str] = frozenset()

    @staticmethod
    def of(subs: Sequence[Subcategory]) -> KeywordIndex:
        leads: dict[str, list[tuple[int, str]]] = {}
        for position, sub in enumerate(subs):
            for word in sub.keywords:
                leads.setdefault(word[:2], []).append((position, word))
        found = {lead: tuple(words) for lead, words in leads.items()}
        return KeywordIndex(tuple(subs), found, frozenset(found))

    def hits(self, folded_text: str) -> list[tuple[Subcategory, int]]:
        """Each sub-category the text names a keyword of, with how many, in listing order."""
        text = folded_text
        present = {text[i : i + 2] for i in range(len(text) - 1)}
        present.update(text)
        present.add("")  # an empty keyword is in every text
        counts: dict[int, int] = {}
        for lead in present & self.lead_set:
            for position, word in self.leads[lead]:
                if word in text:
                    counts[position] = counts.get(position, 0) + 1
        return [(self.subs[position], counts[position]) for position in sorted(counts)]


@dataclass(frozen=True, slots=True)
class UrgentDeadlines:
    """The shortest deadlines, for danger to life or property, whatever the category."""

    accept_hours: int = 1
    complete_working_days: int = 1


@dataclass(frozen=True, slots=True)
class CountyDepartment:
    """A department kind every county-level unit has too: named "<county><zh>" and
    "<county's English name> <en>" (宁国市人社局, Ningguo City Human Resources Bureau)."""

    kind: str
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class Taxonomy:
    departments: dict[str, Department]
    categories: dict[str, Category]
    triage_department: str
    urgent: UrgentDeadlines = UrgentDeadlines()
    subcategories: dict[str, tuple[Subcategory, ...]] = field(default_factory=dict)
    county_departments: tuple[CountyDepartment, ...] = ()
    units: UnitTree | None = None  # the city's units; their departments are in ``departments``
    # Every sub-category's keywords, for finding those a text names (``subcategory_anywhere``).
    keywords: KeywordIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        subs = [sub for listed in self.subcategories.values() for sub in listed]
        object.__setattr__(self, "keywords", KeywordIndex.of(subs))

    def is_city_level(self, category: str, subcategory: str | None = None) -> bool:
        """True when this matter always goes to the city's department (the taxonomy marks the
        category or the sub-category ``city_level``)."""
        sub = self.subcategory(category, subcategory)
        return (sub is not None and sub.city_level) or self.category(category).city_level

    def routed(self, category: str, subcategory: str | None, place: str | None) -> str:
        """Where a matter goes by its kind and its place (routing by matter x place): the
        department of the matter's kind (``department_for``) in the nearest unit of the place's
        chain that has one (township -> county -> city); the city's own department when there
        is no place, no units tree, an unknown place, or the matter is ``city_level``."""
        department = self.department_for(category, subcategory)
        tree = self.units
        if (
            place is None
            or tree is None
            or tree.get(place) is None
            or self.is_city_level(category, subcategory)
        ):
            return department
        _, kind = split_department_code(department)
        for unit in tree.chain(place):
            if unit.code == tree.root:
                break
            code = department_code(unit.code, kind)
            if code in self.departments:
                return code
        return department

    def unit_of(self, department: str) -> str | None:
        """The unit a department belongs to (the city's for the city's own departments); None
        without a units tree or for an unknown department."""
        dept = self.departments.get(department)
        return None if dept is None else dept.unit

    def departments_of(self, unit: str) -> list[Department]:
        return [d for d in self.departments.values() if d.unit == unit]

    def subcategory_for(self, category: str, text: str) -> Subcategory | None:
        """The sub-category of ``category`` whose keywords ``text`` names most (the first
        listed wins a tie), or None when it names none."""
        folded = text.casefold()
        best, best_hits = None, 0
        for sub in self.subcategories.get(category, ()):
            hits = sub.hits(folded)
            if hits > best_hits:
                best, best_hits = sub, hits
        return best

    def subcategory_anywhere(self, text: str) -> Subcategory | None:
        """The sub-category of any category whose keywords ``text`` names most."""
        best, best_hits = None, 0
        for sub, hits in self.keywords.hits(text.casefold()):
            if hits > best_hits:
                best, best_hits = sub, hits
        return best

    def subcategory(self, category: str, code: str | None) -> Subcategory | None:
        """The sub-category ``code`` of ``category``, or None when it has no such one."""
        return next((s for s in self.subcategories.get(category, ()) if s.code == code), None)

    def subcategory_named(self, category: str, name: str) -> Subcategory | None:
        """The sub-category of ``category`` with this code or Chinese or English name."""
        wanted = name.strip().casefold()
        return next(
            (
                s
                for s in self.subcategories.get(category, ())
                if wanted in (s.code.casefold(), s.name_zh.casefold(), s.name_en.casefold())
            ),
            None,
        )

    def department_for(self, category: str, subcategory: str | None = None) -> str:
        """Where a case of this category (and sub-category, if it names one) goes."""
        sub = self.subcategory(category, subcategory)
        if sub is not None and sub.department is not None:
            return sub.department
        return self.category(category).department

    def shares(self) -> dict[str, float]:
        """Each category's expected share of complaints (summing to 1), for those that give one;
        empty when none does."""
        given = {c.code: c.share for c in self.categories.values() if c.share is not None}
        total = sum(given.values())
        return {code: share / total for code, share in given.items()} if total > 0 else {}

    def category(self, code: str) -> Category:
        try:
            return self.categories[code]
        except KeyError:
            raise NotFound("category", code) from None

    def department(self, code: str) -> Department:
        try:
            return self.departments[code]
        except KeyError:
            raise NotFound("department", code) from None

    @classmethod
    def from_dict(
        cls,
        raw: dict[str, Any],
        *,
        training: Sequence[dict[str, Any]] = (),
        units: UnitTree | None = None,
    ) -> Taxonomy:
        """Build from the parsed data file; every reference is checked.

        ``training``: the NLU's training files (``{category, subcategories: {code: {zh, en,
        department, keywords}}}``); their sub-categories join those of the data file. Where
        both name the same code in the same category, the data file's names and department win
        (the training file's department applies when the data file gives none) and the
        keywords of both count. Files of an unknown category (the negatives, ``category:
        none``) are left out.

        ``units``: the city's units tree. Every county-level unit gets the departments the
        file's ``county_departments`` names (``<unit>.<kind>``), every township and village its
        one office (``<unit>.office``); the city's own departments belong to the root.
        """
        try:
            departments = {
                code: Department(
                    code,
                    _name(d, "zh", code),
                    _name(d, "en", code),
                    bool(d.get("outside")),
                    unit=None if units is None else units.root,
                )
                for code, d in raw["departments"].items()
            }
            county = tuple(
                CountyDepartment(str(kind), _name(d, "zh", kind), _name(d, "en", kind))
                for kind, d in (raw.get("county_departments") or {}).items()
            )
            categories = {
                code: Category(
                    code=code,
                    name_zh=_name(c, "zh", code),
                    name_en=_name(c, "en", code),
                    department=str(c["department"]),
                    accept_hours=int(c["accept_hours"]),
                    complete_working_days=int(c["complete_working_days"]),
                    reply_working_days=(
                        int(c["reply_working_days"]) if "reply_working_days" in c else None
                    ),
                    share=float(c["share"]) if "share" in c else None,
                    city_level=_flag(c, "city_level", code),
                )
                for code, c in raw["categories"].items()
            }
            triage = str(raw["triage_department"])
            urgent = UrgentDeadlines(**{k: int(v) for k, v in raw.get("urgent", {}).items()})
            subcategories = {
                category: tuple(_subcategory(category, code, s) for code, s in subs.items())
                for category, subs in (raw.get("subcategories") or {}).items()
            }
            learnt = [
                _subcategory(str(file["category"]), code, entry)
                for file in training
                if str(file.get("category")) in categories
                for code, entry in (file.get("subcategories") or {}).items()
            ]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"taxonomy file is malformed: {exc!r}") from exc
        for cat in categories.values():
            if cat.department not in departments:
                raise InvalidInput(f"category {cat.code} names unknown department {cat.department}")
            if (
                cat.accept_hours <= 0
                or cat.complete_working_days <= 0
                or (cat.reply_working_days is not None and cat.reply_working_days <= 0)
            ):
                raise InvalidInput(f"category {cat.code} needs positive deadlines")
            if cat.share is not None and cat.share < 0:
                raise InvalidInput(f"category {cat.code}: share must not be negative")
        if triage not in departments:
            raise InvalidInput(f"triage department {triage} is not a department")
        if urgent.accept_hours <= 0 or urgent.complete_working_days <= 0:
            raise InvalidInput("urgent deadlines must be positive")
        for category, subs in subcategories.items():
            if category not in categories:
                raise InvalidInput(f"sub-categories given for unknown category {category}")
            for sub in subs:
                if not sub.keywords:
                    raise InvalidInput(f"sub-category {sub.code} needs keywords")
        for sub in learnt:
            subcategories[sub.category] = _merged(subcategories.get(sub.category, ()), sub)
        for kind in county:
            if kind.kind not in departments:
                raise InvalidInput(f"county department {kind.kind} is not a city department")
        if units is not None:
            for unit in units:
                for dept in _unit_departments(unit, county):
                    if dept.code in departments:
                        raise InvalidInput(f"department {dept.code} is named twice")
                    departments[dept.code] = dept
        for subs in subcategories.values():
            for sub in subs:
                if sub.department is not None and sub.department not in departments:
                    raise InvalidInput(
                        f"sub-category {sub.category}/{sub.code} names unknown department "
                        f"{sub.department}"
                    )
        return cls(
            departments=departments,
            categories=categories,
            triage_department=triage,
            urgent=urgent,
            subcategories=subcategories,
            county_departments=county,
            units=units,
        )


def _unit_departments(unit: Unit, county: Sequence[CountyDepartment]) -> list[Department]:
    """A county-level unit's departments of each kind, a township's or village's one office;
    none for the city (the file's departments are its own)."""
    if unit.level == Level.CITY:
        return []
    named = {kind.kind: kind for kind in county}
    kinds = unit.kinds
    if kinds is None:
        kinds = tuple(named) if unit.level == Level.COUNTY else (OFFICE,)
    out = []
    for code in kinds:
        if code == OFFICE:
            zh, en = office_name(unit)
        elif code in named:
            zh, en = f"{unit.name_zh}{named[code].zh}", f"{unit.name_en} {named[code].en}"
        else:
            raise InvalidInput(f"unit {unit.code}: unknown department kind {code}")
        out.append(Department(department_code(unit.code, code), zh, en, unit=unit.code))
    return out


def _flag(entry: dict[str, Any], key: str, code: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise InvalidInput(f"{code}: {key} must be true or false")
    return value


def _merged(known: tuple[Subcategory, ...], learnt: Subcategory) -> tuple[Subcategory, ...]:
    """``known`` with ``learnt`` added, or folded into the one of the same code."""
    same = next((sub for sub in known if sub.code == learnt.code), None)
    if same is None:
        return (*known, learnt)
    merged = replace(
        same,
        keywords=tuple(dict.fromkeys((*same.keywords, *learnt.keywords))),
        department=same.department or learnt.department,
        city_level=same.city_level or learnt.city_level,
    )
    return tuple(merged if sub is same else sub for sub in known)


def _name(entry: dict[str, Any], language: str, code: str) -> str:
    value = entry[language]
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{code} needs a non-empty {language} name")
    return value


def _subcategory(category: str, code: str, entry: dict[str, Any]) -> Subcategory:
    keywords = entry.get("keywords") or []
    if not isinstance(keywords, list):
        raise InvalidInput(f"sub-category {code}: keywords must be a list")
    department = entry.get("department")
    return Subcategory(
        code=str(code),
        category=category,
        name_zh=_name(entry, "zh", code),
        name_en=_name(entry, "en", code),
        keywords=tuple(str(word).casefold() for word in keywords if str(word).strip()),
        department=str(department) if department else None,
        city_level=_flag(entry, "city_level", code),
    )
