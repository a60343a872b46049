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
