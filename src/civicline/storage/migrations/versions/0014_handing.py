"""cases handed along the units' tree: one assignment per unit that held a case (交办, 上报,
转送), with its parent assignment, its own deadline and its state

Revision ID: 0014
Revises: 0015
Create Date: 2026-12-06 15:00:00.000000

Cases handed before this revision have no assignments: their history tells the forwards.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)
LATE = "state = 'holding' AND parent_id IS NOT NULL AND escalated_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "case_assignments",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("parent_id", BIG_ID, nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("handing", sa.String(length=8), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("due_at", WHEN, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=True),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.Column("escalated_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_assignments_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["case_assignments.id"],
            name=op.f("fk_case_assignments_parent_id_case_assignments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_assignments")),
    )
    op.create_index("ix_case_assignments_case", "case_assignments", ["case_id", "id"])
    op.create_index(
        "ix_case_assignments_late",
        "case_assignments",
        ["due_at"],
        postgresql_where=sa.text(LATE),
        sqlite_where=sa.text(LATE),
    )


def downgrade() -> None:
    op.drop_index("ix_case_assignments_late", table_name="case_assignments")
    op.drop_index("ix_case_assignments_case", table_name="case_assignments")
    op.drop_table("case_assignments")
