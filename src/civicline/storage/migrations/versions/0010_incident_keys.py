"""incident grouping by index: a case's signature, its index keys, and merge suggestions

Revision ID: 0010
Revises: 0011 (0011 landed first, on 0009)
Create Date: 2026-12-07 09:00:00.000000

Cases filed before this revision have no signature: the worker indexes the open ones of the
incident window when it starts (handlers.incidents.index_unsigned).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)
OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incident_signature", sa.Text(), nullable=True))
    op.create_table(
        "incident_keys",
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("weight", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_incident_keys_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", "key", name=op.f("pk_incident_keys")),
    )
    op.create_index(
        "ix_incident_keys_key_created_at", "incident_keys", ["key", "created_at"], unique=False
    )
    op.create_table(
        "incident_suggestions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("lead_id", BIG_ID, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_incident_suggestions_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["cases.id"], name=op.f("fk_incident_suggestions_lead_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_suggestions")),
        sa.UniqueConstraint(
            "case_id", "lead_id", name=op.f("uq_incident_suggestions_case_id_lead_id")
        ),
    )
    op.create_index(
        "ix_incident_suggestions_open",
        "incident_suggestions",
        ["case_id"],
        unique=False,
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )
    op.create_index(
        "ix_incident_suggestions_lead_open",
        "incident_suggestions",
        ["lead_id"],
        unique=False,
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_incident_suggestions_lead_open", table_name="incident_suggestions")
    op.drop_index("ix_incident_suggestions_open", table_name="incident_suggestions")
    op.drop_table("incident_suggestions")
    op.drop_index("ix_incident_keys_key_created_at", table_name="incident_keys")
    op.drop_table("incident_keys")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("incident_signature")
