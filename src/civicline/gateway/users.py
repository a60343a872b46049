"""Creating staff accounts."""

from __future__ import annotations

import asyncio
from datetime import datetime

from civicline.domain.accounts import Role, StaffUser
from civicline.domain.taxonomy import Taxonomy
from civicline.domain.text import flaw
from civicline.gateway.auth import hash_password
from civicline.storage.base import UnitOfWork

MIN_PASSWORD = 8
MAX_USERNAME = 64  # the column's width, and the sign-in forms' limit


class UserExists(Exception):
    pass


async def create_user(
    uow: UnitOfWork,
    taxonomy: Taxonomy,
    username: str,
    password: str,
    role: Role,
    department: str | None,
    *,
    now: datetime,
    unit: str | None = None,
) -> StaffUser:
    """``unit``: the unit a supervisor or operator works for (they see its subtree); the city
    when not given. A clerk's unit is their department's."""
    if not 1 <= len(username) <= MAX_USERNAME:
        raise ValueError(f"the username needs 1-{MAX_USERNAME} characters")
    if problem := flaw(username) or flaw(password):
        raise ValueError(f"the username or password {problem}")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")
    if role == Role.STAFF and department is None:
        raise ValueError("staff accounts need a --department")
    if department is not None and department not in taxonomy.departments:
        raise ValueError(f"unknown department {department}")
    unit = _unit_of(taxonomy, department, unit)
    password_hash = await asyncio.to_thread(hash_password, password)
    async with uow:
        if await uow.staff.by_username(username):
            raise UserExists(f"user {username} exists")
        user = await uow.staff.add(
            StaffUser(
                username=username,
                password_hash=password_hash,
                role=role,
                department=department,
                created_at=now,
                unit=unit,
            )
        )
        await uow.commit()
        return user


def _unit_of(taxonomy: Taxonomy, department: str | None, unit: str | None) -> str | None:
    tree = taxonomy.units
    if department is not None:
        own = taxonomy.unit_of(department)
        if unit is not None and unit != own:
            raise ValueError(f"department {department} is not in unit {unit}")
        return own
    if tree is None:
        if unit is not None:
            raise ValueError("no units are set up")
        return None
    if unit is None:
        return tree.root
    if tree.get(unit) is None:
        raise ValueError(f"unknown unit {unit}")
    return unit
