"""units: the tree of the city's units (city, counties, townships, villages); departments and
staff accounts belong to a unit; a case records the unit its place lies in

Revision ID: 0013
Revises: 0014 (handing and visits landed before it: 0012 -> 0015 -> 0014 -> 0013)
Create Date: 2026-12-06 15:00:00.000000

Every existing department and staff account goes to the city unit (the ``city`` of the units
file: ``CIVICLINE_UNITS_PATH`` or the shipped src/civicline/units.yml); the rest of the tree is
filled from the file when the gateway starts (``storage.units``). Existing cases keep their
department (the city's); their place's unit is unknown (NULL), as no place was recognised as a
unit when they were filed.
"""

import os
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
import yaml
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHIPPED = Path(__file__).resolve().parents[3] / "units.yml"


def _city() -> dict[str, str]:
    """The city entry of the units file in use (code and names)."""
    path = Path(os.environ.get("CIVICLINE_UNITS_PATH") or SHIPPED)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    city = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)["city"]  # noqa: S506
    code = str(city["code"]).strip()
    return {
        "code": code,
        "level": "city",
        "path": f"{code}/",
        "name_zh": str(city["zh"]),
        "name_en": str(city.get("en") or city["zh"]),
    }


def upgrade() -> None:
    units = op.create_table(
        "units",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("parent", sa.String(length=32), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["parent"], ["units.code"], name=op.f("fk_units_parent_units")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_units")),
        sa.UniqueConstraint("path", name=op.f("uq_units_path")),
    )
    city = _city()
    op.bulk_insert(units, [city])
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_departments_unit"), ["unit"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_departments_unit_units"), "units", ["unit"], ["code"]
        )
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_staff_users_unit_units"), "units", ["unit"], ["code"]
        )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit", sa.String(length=32), nullable=True))
    op.execute(sa.text("UPDATE departments SET unit = :city").bindparams(city=city["code"]))
    op.execute(sa.text("UPDATE staff_users SET unit = :city").bindparams(city=city["code"]))


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("unit")
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_staff_users_unit_units"), type_="foreignkey")
        batch_op.drop_column("unit")
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_departments_unit_units"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_departments_unit"))
        batch_op.drop_column("unit")
    op.drop_table("units")
