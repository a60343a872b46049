"""Staff accounts: who may answer, forward and close cases."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Role(enum.StrEnum):
    OPERATOR = "operator"
    STAFF = "staff"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


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

    @property
    def sees_all_departments(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMIN, Role.OPERATOR)

    def may_handle(self, department: str | None) -> bool:
        return self.sees_all_departments or (
            department is not None and department == self.department
        )

    @property
    def sees_contact_details(self) -> bool:
        """Citizens' phone numbers and addresses: the hotline's operators and the supervisors
        who call citizens back see them; department clerks never do."""
        return self.role in (Role.SUPERVISOR, Role.ADMIN, Role.OPERATOR)

    @property
    def may_triage(self) -> bool:
        """Placing cases the NLU could not route is the hotline centre's work."""
        return self.role in (Role.SUPERVISOR, Role.ADMIN, Role.OPERATOR)

    @property
    def takes_calls(self) -> bool:
        """Filing hotline calls: the operators, and the supervisors and admins above them."""
        return self.role in (Role.SUPERVISOR, Role.ADMIN, Role.OPERATOR)

    @property
    def may_edit_canned_replies(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def actor(self) -> str:
        """How the user appears in a case's history."""
        return f"staff:{self.username}"
