"""Signing in, whichever way (the console's form, the API's token): one lockout for all.

Wrong passwords count against the name tried (existing or not) and against the client's
address, in the database, so a password guessed on one path gets no fresh tries on another.
While either is locked even the right password is refused, with the same answer as a wrong one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime

from civicline.domain.accounts import StaffUser
from civicline.domain.claims import LockoutPolicy
from civicline.domain.errors import DomainError
from civicline.storage.base import UnitOfWorkFactory

MAX_USERNAME = 64

Verify = Callable[[str | None, str], Awaitable[bool]]
"""Checks a password against a stored hash (None: no such user; still takes the same time)."""


class SignInRefused(DomainError):
    """One answer for a wrong name, a wrong password, a disabled account and a locked name,
    so the answer never tells whether the account exists."""

    def __init__(self) -> None:
        super().__init__("wrong username or password, or too many attempts: try again later")


def _key(kind: str, value: str) -> str:
    # Hashed: the table would otherwise keep whatever was typed as a name (now and then a
    # password) and client addresses.
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:40]}"


async def authenticate(
    username: str,
    password: str,
    *,
    client: str | None,
    uow_factory: UnitOfWorkFactory,
    verify: Verify,
    now: datetime,
    policy: LockoutPolicy,
) -> StaffUser:
    """The active user with this name and password, or ``SignInRefused``."""
    username = username.strip()[:MAX_USERNAME]
    name = _key("name", username)
    address = _key("client", client) if client else None
    async with uow_factory() as uow:
        counts = [await uow.login_failures.get(k) for k in (name, address) if k]
        user = await uow.staff.by_username(username)
    locked = any(c is not None and c.locked(now) for c in counts)
    # Verified even when locked or unknown, so the time taken tells nothing either.
    ok = await verify(user.password_hash if user else None, password)
    if locked or not ok or user is None or not user.active:
        if not locked:
            async with uow_factory() as uow:
                await uow.login_failures.record_failure(name, now=now, policy=policy)
                if address:
                    await uow.login_failures.record_failure(
                        address, now=now, policy=policy.for_clients()
                    )
                await uow.commit()
        raise SignInRefused()
    # The name's count starts again; the address's runs out with its window, so one good
    # account does not buy a guesser fresh tries.
    async with uow_factory() as uow:
        await uow.login_failures.clear(name)
        await uow.commit()
    return user
