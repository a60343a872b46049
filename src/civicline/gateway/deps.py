"""FastAPI dependencies: the shared services and the signed-in staff user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from civicline.domain.errors import NotFound
from civicline.domain.staff import StaffUser
from civicline.gateway.auth import read_token
from civicline.gateway.bootstrap import Services

_bearer = HTTPBearer(auto_error=False)


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_user(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> StaffUser:
    unauthorized = HTTPException(
        401, "sign in first: POST /api/v1/auth/token", headers={"WWW-Authenticate": "Bearer"}
    )
    if credentials is None:
        raise unauthorized
    user_id = read_token(services.settings.signing_key, credentials.credentials)
    if user_id is None:
        raise unauthorized
    async with services.uow() as uow:
        try:
            user = await uow.staff.get(user_id)
        except NotFound:
            raise unauthorized from None
    if not user.active:
        raise unauthorized
    return user


UserDep = Annotated[StaffUser, Depends(current_user)]
