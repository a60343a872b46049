"""incidents: a case's district and number of reporters, surge alerts

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 04:05:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)
MERGED = sa.text("merged_into IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("district", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("reporters", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
        batch_op.create_index("ix_cases_category_created", ["category", "created_at"], unique=False)
        batch_op.create_index(
            "ix_cases_merged_into",
            ["merged_into"],
            unique=False,
            postgresql_where=MERGED,
            sqlite_where=MERGED,
        )
    op.create_table(
        "surge_alerts",
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("bucket", WHEN, nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("usual", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("category", "district", "bucket", name=op.f("pk_surge_alerts")),
    )


def downgrade() -> None:
    op.drop_table("surge_alerts")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_merged_into", sqlite_where=MERGED)
        batch_op.drop_index("ix_cases_category_created")
        batch_op.drop_column("reporters")
        batch_op.drop_column("district")
