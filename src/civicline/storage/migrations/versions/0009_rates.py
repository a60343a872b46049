"""rates: indexes for repeat complaints and for cases closed in a period

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 05:00:00.000000

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_repeat", ["citizen_id", "category", "created_at"], unique=False
        )
        batch_op.create_index("ix_cases_closed_at", ["closed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_closed_at")
        batch_op.drop_index("ix_cases_repeat")
