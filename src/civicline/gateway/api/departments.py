"""The city's departments, for the staff API's forms: ``GET /api/v1/departments``."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from civicline.gateway.deps import ServicesDep, UserDep

router = APIRouter(tags=["staff"])


class DepartmentOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    unit: str | None = None  # the unit it belongs to (domain.units); the city's own: the city


@router.get("/departments", response_model=list[DepartmentOut])
async def departments(_user: UserDep, services: ServicesDep) -> list[DepartmentOut]:
    return [
        DepartmentOut(code=d.code, name_zh=d.name_zh, name_en=d.name_en, unit=d.unit)
        for d in services.taxonomy.departments.values()
    ]
