"""Staff authentication: argon2 password hashes and short-lived signed bearer tokens."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing the same.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Argon2 takes tens of milliseconds of CPU: keep it off the event loop."""

    def check() -> bool:
        try:
            return (
                _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def _sign(key: bytes, payload: bytes) -> str:
    digest = hmac.new(key, payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_token(key: bytes, user_id: int, ttl_seconds: int, now: float | None = None) -> str:
    expires = int((now or time.time()) + ttl_seconds)
    payload = f"{user_id}.{expires}".encode()
    body = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    return f"{body}.{_sign(key, payload)}"


def read_token(key: bytes, token: str, now: float | None = None) -> int | None:
    """The user id in a valid, unexpired token; None otherwise."""
    try:
        body, signature = token.split(".", 1)
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        user_id, expires = (int(part) for part in payload.decode().split("."))
    except (ValueError, UnicodeDecodeError):
        return None
    if not hmac.compare_digest(signature, _sign(key, payload)):
        return None
    if expires < (now or time.time()):
        return None
    return user_id
