"""governance: deadlines to first reply, pauses, outcomes, return visits, escalation,
notifications, supervision orders (督办) and leader ownership (包案)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 04:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for name in ("reply_due_at", "accepted_at", "first_reply_at", "closed_at", "paused_since"):
            batch_op.add_column(sa.Column(name, WHEN, nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("legal_matter", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("satisfaction", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("solved", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("visit_status", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("second_review", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("escalation_level", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.create_index("ix_cases_created_at", ["created_at"], unique=False)
        batch_op.create_index(
            "ix_cases_visit_asked",
            ["closed_at"],
            unique=False,
            postgresql_where=sa.text("visit_status = 'asked'"),
            sqlite_where=sa.text("visit_status = 'asked'"),
        )
    op.create_table(
        "escalations",
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_escalations_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", "level", name=op.f("pk_escalations")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("case_id", BIG_ID, nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("audience", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("read_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_notifications_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_audience", ["audience", "department", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_notifications_case_id"), ["case_id"], unique=False)
    op.create_table(
        "supervision_orders",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("issued_by", sa.String(length=100), nullable=False),
        sa.Column("issued_at", WHEN, nullable=False),
        sa.Column("due_at", WHEN, nullable=False),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("responded_by", sa.String(length=100), nullable=True),
        sa.Column("responded_at", WHEN, nullable=True),
        sa.Column("reminders", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("reminded_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_supervision_orders_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_orders")),
    )
    with op.batch_alter_table("supervision_orders", schema=None) as batch_op:
        batch_op.create_index("ix_supervision_orders_open", ["status", "due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_supervision_orders_case_id"), ["case_id"], unique=False
        )
    op.create_table(
        "case_owners",
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("leader", sa.String(length=100), nullable=False),
        sa.Column("supervising_leader", sa.String(length=100), nullable=False),
        sa.Column("working_group", sa.JSON(), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("assigned_by", sa.String(length=100), nullable=False),
        sa.Column("assigned_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_owners_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_owners")),
    )


def downgrade() -> None:
    op.drop_table("case_owners")
    with op.batch_alter_table("supervision_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervision_orders_case_id"))
        batch_op.drop_index("ix_supervision_orders_open")
    op.drop_table("supervision_orders")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_case_id"))
        batch_op.drop_index("ix_notifications_audience")
    op.drop_table("notifications")
    op.drop_table("escalations")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_visit_asked", sqlite_where=sa.text("visit_status = 'asked'"))
        batch_op.drop_index("ix_cases_created_at")
        for name in (
            "escalation_level",
            "second_review",
            "visit_status",
            "solved",
            "satisfaction",
            "legal_matter",
            "outcome",
            "paused_since",
            "closed_at",
            "first_reply_at",
            "accepted_at",
            "reply_due_at",
        ):
            batch_op.drop_column(name)
