"""Everything under ``/api/v1/cases``, one sub-resource a module. No two routes match the same
request, so the order they are included in does not matter (``core`` says how the lifecycle
actions keep clear of the other sub-resources)."""

from __future__ import annotations

from fastapi import APIRouter

from civicline.gateway.api.cases import (
    attachments,
    core,
    dossier,
    followup,
    handing,
    incidents,
    ownership,
    publication,
    supervision,
)

PREFIX = "/cases"

router = APIRouter()
for module in (
    core,
    followup,
    handing,
    incidents,
    supervision,
    ownership,
    dossier,
    attachments,
    publication,
):
    router.include_router(module.router, prefix=PREFIX)
