"""Signing in to the staff API: ``POST /api/v1/auth/token`` gives a bearer token."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from civicline.gateway.auth import issue_token, verify_password
from civicline.gateway.deps import ServicesDep
from civicline.handlers.signin import SignInRefused, authenticate

router = APIRouter(tags=["staff"])


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int


@router.post("/auth/token", response_model=Token, tags=["auth"])
async def sign_in(credentials: Credentials, request: Request, services: ServicesDep) -> Token:
    """A bearer token; the console's lockout applies (the same count, name and address)."""
    try:
        user = await authenticate(
            credentials.username,
            credentials.password,
            client=request.client.host if request.client else None,
            uow_factory=services.uow,
            verify=verify_password,
            now=services.now(),
            policy=services.settings.lockout_policy,
        )
    except SignInRefused as exc:
        raise HTTPException(401, str(exc)) from None
    assert user.id is not None
    ttl = services.settings.token_ttl_seconds
    return Token(
        access_token=issue_token(services.settings.signing_key, user.id, ttl), expires_in=ttl
    )
