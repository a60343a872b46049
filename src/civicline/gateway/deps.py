"""FastAPI dependencies: the shared services and the signed-in staff user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from civicline.domain.accounts import StaffUser
from civicline.domain.errors import NotFound
from civicline.gateway.auth import read_token
from civicline.gateway.bootstrap import Services

if TYPE_CHECKING:
    from civicline.channels.telegram import Telegram

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


def known_department(services: Services, code: str | None) -> None:
    """Refuse an unknown department code (404); ``None`` means every department."""
    if code is not None:
        services.taxonomy.department(code)


def telegram_of(services: Services) -> Telegram:
    if services.telegram is None:
        raise HTTPException(
            404, "Telegram is not enabled: set CIVICLINE_TELEGRAM_BOT_TOKEN and its webhook secret"
        )
    return services.telegram
