"""Categories and departments: the city's routing table, loaded from an editable data file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from civicline.domain.errors import InvalidInput, NotFound


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    name_zh: str
    name_en: str
    department: str
    accept_hours: int
    complete_working_days: int
    reply_working_days: int | None = None  # to the first answer; None: the default (3)


@dataclass(frozen=True, slots=True)
class Subcategory:
    """A finer label inside a category, recognised by its keywords (zh and en)."""

    code: str
    category: str
    name_zh: str
    name_en: str
    keywords: tuple[str, ...]

    def hits(self, folded_text: str) -> int:
        return sum(1 for word in self.keywords if word in folded_text)


@dataclass(frozen=True, slots=True)
class UrgentDeadlines:
    """The shortest deadlines, for danger to life or property, whatever the category."""

    accept_hours: int = 1
    complete_working_days: int = 1


@dataclass(frozen=True, slots=True)
class Taxonomy:
    departments: dict[str, Department]
    categories: dict[str, Category]
    triage_department: str
    urgent: UrgentDeadlines = UrgentDeadlines()
    subcategories: dict[str, tuple[Subcategory, ...]] = field(default_factory=dict)

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
        folded = text.casefold()
        best, best_hits = None, 0
        for subs in self.subcategories.values():
            for sub in subs:
                hits = sub.hits(folded)
                if hits > best_hits:
                    best, best_hits = sub, hits
        return best

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
    def from_dict(cls, raw: dict[str, Any]) -> Taxonomy:
        """Build from the parsed data file; every reference is checked."""
        try:
            departments = {
                code: Department(code, _name(d, "zh", code), _name(d, "en", code))
                for code, d in raw["departments"].items()
            }
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
                )
                for code, c in raw["categories"].items()
            }
            triage = str(raw["triage_department"])
            urgent = UrgentDeadlines(**{k: int(v) for k, v in raw.get("urgent", {}).items()})
            subcategories = {
                category: tuple(_subcategory(category, code, s) for code, s in subs.items())
                for category, subs in (raw.get("subcategories") or {}).items()
            }
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
        return cls(
            departments=departments,
            categories=categories,
            triage_department=triage,
            urgent=urgent,
            subcategories=subcategories,
        )


def _name(entry: dict[str, Any], language: str, code: str) -> str:
    value = entry[language]
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{code} needs a non-empty {language} name")
    return value


def _subcategory(category: str, code: str, entry: dict[str, Any]) -> Subcategory:
    keywords = entry.get("keywords") or []
    if not isinstance(keywords, list):
        raise InvalidInput(f"sub-category {code}: keywords must be a list")
    return Subcategory(
        code=code,
        category=category,
        name_zh=_name(entry, "zh", code),
        name_en=_name(entry, "en", code),
        keywords=tuple(str(word).casefold() for word in keywords),
    )
