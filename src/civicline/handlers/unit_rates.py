"""Rates by unit: a unit's figures are those of its subtree (a county's include its
townships'), and each of its children has a line of its own, so a supervisor drills down city →
county → township.

A case counts once, in the unit that holds it: its department's unit (``341881.human_resources``
is 宁国市's, ``341881001.office`` 河沥溪街道's, the taxonomy's own codes the city's). Cases with
no department yet (in triage) are the city's. A unit's ``own`` line holds the cases of its own
departments; its lines and its children's add up to its total. The counting is SQL's
(``storage.stats``, filtered to the subtree's departments, grouped by department); the summing
by unit happens here, over those few rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from civicline.domain.accounts import StaffUser
from civicline.domain.errors import InvalidInput, NotAllowed, NotFound
from civicline.domain.handing import unit_of_department, unit_of_user
from civicline.domain.taxonomy import Taxonomy
from civicline.domain.units import Unit, UnitTree
from civicline.storage.stats import COUNTS, ReportRow


@dataclass(frozen=True, slots=True)
class Units:
    """The tree and every department's code (the gateway's taxonomy holds both)."""

    tree: UnitTree
    departments: Collection[str]


def units_of(taxonomy: Taxonomy) -> Units | None:
    """The taxonomy's tree and departments, when it has a tree."""
    if taxonomy.units is None:
        return None
    return Units(taxonomy.units, taxonomy.departments.keys())


@dataclass(frozen=True, slots=True)
class UnitScope:
    unit: Unit
    children: tuple[Unit, ...]
    chain: tuple[Unit, ...]  # the city first, down to the unit: the drill-down's way back up
    departments: frozenset[str] | None  # the subtree's departments; None: every case (the city)
    tree: UnitTree

    def line_of(self, department: str | None) -> str:
        """The line a department's cases count in: the child whose subtree holds it, or the
        unit's own (its code)."""
        holder = _unit_or_city(department, self.tree)
        return next((c.code for c in self.children if c.contains(holder)), self.unit.code)


def unit_scope(tree: UnitTree, departments: Iterable[str], code: str) -> UnitScope:
    """The scope of unit ``code``: its children and the departments of its subtree."""
    unit = tree.get(code)
    if unit is None:
        raise InvalidInput(f"unit {code} is not in the tree")
    inside = None
    if unit.parent is not None:
        inside = frozenset(d for d in departments if unit.contains(_unit_or_city(d, tree)))
    return UnitScope(
        unit=unit,
        children=tuple(tree.children(unit.code)),
        chain=tuple(reversed(tree.chain(unit.code))),
        departments=inside,
        tree=tree,
    )


def _unit_or_city(department: str | None, tree: UnitTree) -> Unit:
    try:
        return unit_of_department(department, tree)
    except NotFound:  # a department of a unit the file no longer lists: the city's
        return tree.city


def unit_for(user: StaffUser, asked: str | None, tree: UnitTree) -> str:
    """The unit whose figures the user reads: the one asked for, within the user's own; a
    supervisor's or admin's unit by default (their account's, else their department's).
    Department clerks read their department's figures, not a unit's."""
    if not user.oversees:
        raise NotAllowed(f"{user.username} reads their department's rates, not a unit's")
    own = unit_of_user(user, tree)
    if asked is None:
        return own.code
    if not tree.contains(own.code, asked):
        if tree.get(asked) is None:
            raise InvalidInput(f"unit {asked} is not in the tree")
        raise NotAllowed(f"{user.username} reads the rates of {own.code} and below only")
    return asked


def roll_up(rows: Sequence[ReportRow], scope: UnitScope) -> list[ReportRow]:
    """Department rows summed into the scope's lines (group ``unit``), per period: the unit's
    own first, then each child with cases."""
    summed: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        if row.group != "department":
            continue
        counts = summed.setdefault((scope.line_of(row.key), row.period), [0] * len(COUNTS))
        for i, name in enumerate(COUNTS):
            counts[i] += getattr(row, name)
    order = {scope.unit.code: 0} | {c.code: i + 1 for i, c in enumerate(scope.children)}
    lines = [ReportRow("unit", key, period, *counts) for (key, period), counts in summed.items()]
    lines.sort(key=lambda r: (order.get(r.key or "", len(order)), r.period))
    return lines
