"""The JSON API under ``/api/v1``: one router, one resource a module. No two routes match the
same request, so the order they are included in does not matter."""

from __future__ import annotations

from fastapi import APIRouter

from civicline.gateway.api import (
    auth,
    backlog,
    callbacks,
    cases,
    departments,
    hotline,
    notifications,
    stats,
    supervision,
    webchat,
)

PREFIX = "/api/v1"

router = APIRouter(prefix=PREFIX)
for module in (
    auth,
    backlog,
    callbacks,
    cases,
    departments,
    hotline,
    notifications,
    stats,
    supervision,
    webchat,
):
    router.include_router(module.router)
