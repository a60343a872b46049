"""Units for the handing and unit-rates tests: a small tree of real codes for unit tests, and
staff of 宁国市 (341881) and its 河沥溪街道 (341881003) of the shipped units file, over HTTP."""

from __future__ import annotations

from civicline.domain.accounts import Role
from civicline.domain.units import UnitTree
from civicline.gateway.users import create_user
from tests.support.gateway import PASSWORD, Gateway

COUNTY, TOWNSHIP, OTHER_COUNTY = "341881", "341881003", "341802"
SMALL_TREE = UnitTree.from_dict(
    {
        "city": {"code": "341800", "zh": "宣城市"},
        "units": [
            {"code": "341802", "zh": "宣州区", "level": "county", "parent": "341800"},
            {"code": "341881", "zh": "宁国市", "level": "county", "parent": "341800"},
            {"code": "341802003", "zh": "鳌峰街道", "level": "township", "parent": "341802"},
            {"code": "341881003", "zh": "河沥溪街道", "level": "township", "parent": "341881"},
            {"code": "341881001", "zh": "西津街道", "level": "township", "parent": "341881"},
        ],
    }
)
ACCOUNTS = [
    ("ningguo", Role.STAFF, f"{COUNTY}.housing_construction", None),
    ("helixi", Role.STAFF, f"{TOWNSHIP}.office", None),
    ("xuanzhou", Role.STAFF, f"{OTHER_COUNTY}.housing_construction", None),
    ("ningguo_lead", Role.SUPERVISOR, None, COUNTY),
]


async def unit_accounts(gateway: Gateway) -> None:
    """A clerk of 宁国市's housing bureau, one of 河沥溪街道's office, one of 宣州区's housing
    bureau, and a supervisor of 宁国市; their password is ``PASSWORD``."""
    services = gateway.services
    for name, role, department, unit in ACCOUNTS:
        await create_user(
            services.uow(),
            services.taxonomy,
            name,
            PASSWORD,
            role,
            department,
            now=services.now(),
            unit=unit,
        )
