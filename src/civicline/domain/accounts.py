"""Staff accounts: who may answer, forward and close cases."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from civicline.domain.errors import NotAllowed


class Role(enum.StrEnum):
    OPERATOR = "operator"
    STAFF = "staff"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


# The hotline centre, and (of those) the supervisors and admins: each set written once here.
CENTRE = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN})
OVERSIGHT = frozenset({Role.SUPERVISOR, Role.ADMIN})


@dataclass(slots=True)
class StaffUser:
    username: str
    password_hash: str
    role: Role
    created_at: datetime
    department: str | None = None
    display_name: str | None = None
    active: bool = True
    id: int | None = None
    # The unit (domain.units) the account works for: supervisors and operators see its
    # subtree; a clerk's is their department's. None: the city.
    unit: str | None = None
    # Set when the account is loaded and its unit is not the city: the unit's path (a subtree
    # is a prefix of paths) and the departments of that subtree. A supervisor, operator or
    # admin of a county then sees and handles that subtree only.
    scope: str | None = None
    reach: frozenset[str] | None = None

    @property
    def in_the_centre(self) -> bool:
        """The hotline centre (operators, and the supervisors and admins above them): every
        department's cases, citizens' contact details, triage, calls, call-backs and return
        visits by phone."""
        return self.role in CENTRE

    @property
    def oversees(self) -> bool:
        """Supervisors and admins: supervision orders, every department's rates."""
        return self.role in OVERSIGHT

    @property
    def sees_all_departments(self) -> bool:
        """The city's hotline centre: every unit's cases."""
        return self.in_the_centre and self.scope is None

    @property
    def unit_bound(self) -> bool:
        """A supervisor, operator or admin of a unit below the city: its subtree only."""
        return self.in_the_centre and self.scope is not None

    def may_handle(self, department: str | None) -> bool:
        if self.sees_all_departments:
            return True
        if department is None:
            return False
        if department == self.department:
            return True
        return self.unit_bound and self.reach is not None and department in self.reach

    def narrowed(self, department: str | None) -> tuple[str | None, str | None]:
        """(department, unit path) a list the user asks for is limited to: a clerk's own
        department; a unit-bound user's subtree (and the department asked for, when it lies
        in it); everything for the city's centre. NotAllowed for a department out of reach."""
        if self.sees_all_departments:
            return department, None
        if department is not None and not self.may_handle(department):
            raise NotAllowed(f"{self.username} may not see department {department}")
        if self.unit_bound:
            return department, self.scope
        return self.department, None

    @property
    def sees_contact_details(self) -> bool:
        """Citizens' phone numbers and addresses: the hotline's operators and the supervisors
        who call citizens back see them; department clerks never do."""
        return self.in_the_centre

    @property
    def may_triage(self) -> bool:
        """Placing cases the NLU could not route is the hotline centre's work."""
        return self.in_the_centre

    @property
    def takes_calls(self) -> bool:
        """Filing hotline calls, placing call-backs, return visits by phone."""
        return self.in_the_centre

    @property
    def registers_letters(self) -> bool:
        """Registering paper letters and recording replies sent by post: the registry's work,
        done in the centre (operators as registry clerks, supervisors, admins)."""
        return self.in_the_centre

    @property
    def registers_visits(self) -> bool:
        """Registering visits and appointments (the reception centre's clerks work in the
        centre like the registry's); department staff read the register with ID numbers and
        phones masked."""
        return self.in_the_centre

    @property
    def edits_rota(self) -> bool:
        """Naming another leader for a reception day: supervisors and admins."""
        return self.oversees

    @property
    def may_edit_canned_replies(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def actor(self) -> str:
        """How the user appears in a case's history."""
        return f"staff:{self.username}"
