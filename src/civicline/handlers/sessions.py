"""Console sessions: started once a user signed in (``handlers.signin``), read from the
cookie's token on every request, ended on sign-out. Only the token's hash is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from civicline.domain.accounts import StaffUser
from civicline.domain.claims import ConsoleSession
from civicline.storage.base import UnitOfWork


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: StaffUser
    token: str  # goes into the (signed) cookie; only its hash is stored
    session: ConsoleSession


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(
    user: StaffUser, *, uow: UnitOfWork, now: datetime, ttl: timedelta
) -> SignedIn:
    """A new console session for a user who signed in (``handlers.signin.authenticate``)."""
    assert user.id is not None
    token = secrets.token_urlsafe(32)
    session = ConsoleSession(
        id=session_id(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + ttl,
    )
    async with uow:
        await uow.sessions.add(session)
        await uow.commit()
    return SignedIn(user, token, session)


async def session_user(
    token: str, *, uow: UnitOfWork, now: datetime
) -> tuple[ConsoleSession, StaffUser] | None:
    """The live session and its active user for a cookie's token, or None."""
    async with uow:
        session = await uow.sessions.get(session_id(token))
        if session is None or not session.live(now):
            return None
        user = await uow.staff.get(session.user_id)
    return (session, user) if user.active else None


async def sign_out(token: str, *, uow: UnitOfWork) -> None:
    async with uow:
        await uow.sessions.remove(session_id(token))
        await uow.commit()
